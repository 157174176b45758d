"""Forward (noising) process of masked diffusion LMs and the timesteps the method samples.

Facts from docs/method.md §2: LLaDA masks each token independently with p = (1 − eps)·t + eps;
the released code uses 50 diffusion steps and samples every 5th (t ∈ {0.1, …, 1.0});
Dream never masks the first and last positions. (Dream's released pruning code draws
t = (u0 + i/B) mod 1; the suite uses the LLaDA grid for both families, see sinkprune.prune.)
"""

from __future__ import annotations

import torch


def mask_probability(t: torch.Tensor | float, eps: float = 1e-3) -> torch.Tensor:
    """Per-token masking probability at diffusion time t ∈ (0, 1]."""
    t = torch.as_tensor(t, dtype=torch.float32)
    return (1.0 - eps) * t + eps


def sampled_timesteps(steps: int = 50, every: int = 5) -> list[float]:
    """Timesteps visited by the released statistics pass: k/steps for k = every, 2·every, …, steps."""
    if steps <= 0 or every <= 0 or every > steps:
        raise ValueError(f"need 0 < every <= steps, got steps={steps}, every={every}")
    return [k / steps for k in range(every, steps + 1, every)]


def forward_noise(ids: torch.Tensor, t: torch.Tensor | float, mask_id: int, eps: float = 1e-3,
                  generator: torch.Generator | None = None,
                  protect: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask tokens of ``ids`` [B, S] independently with probability p(t).

    t: scalar or ``[B]``. protect: optional bool ``[S]`` or ``[B, S]`` of positions never masked
    (BOS; Dream's first and last). Returns (noisy ids, bool mask of masked positions, p as [B, 1]).
    """
    batch = ids.shape[0]
    p = mask_probability(t, eps).reshape(-1, 1).expand(batch, 1)
    draws = torch.rand(ids.shape, generator=generator)
    masked = draws < p
    if protect is not None:
        masked = masked & ~protect.to(torch.bool).expand_as(masked)
    noisy = torch.where(masked, torch.full_like(ids, mask_id), ids)
    return noisy, masked, p
