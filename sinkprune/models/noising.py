"""Forward (noising) process of masked diffusion LMs and the timesteps the method samples.

Facts from docs/method.md §2: LLaDA masks each token independently with p = (1 − eps)·t + eps;
the released code uses 50 diffusion steps and samples every 5th (t ∈ {0.1, …, 1.0});
Dream never masks the first and last positions. (Dream's released pruning code draws
t = (u0 + i/B) mod 1; ``protocol: corrected`` uses the LLaDA grid for both families and
``protocol: released`` the release's draw, see sinkprune.prune.stats.)
"""

from __future__ import annotations

from typing import Any

import torch


def mask_probability(t: torch.Tensor | float, eps: float = 1e-3,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Per-token masking probability at diffusion time t ∈ (0, 1] (on ``device``, else t's / the host)."""
    if device is None:
        device = t.device if isinstance(t, torch.Tensor) else "cpu"
    t = torch.as_tensor(t, dtype=torch.float32, device=device)
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
    (BOS; Dream's first and last). Returns (noisy ids, bool mask of masked positions, p as [B, 1]),
    on ``ids``' device. Uniforms are drawn on ``generator``'s device, so the same generator gives
    the same masks whichever device ``ids`` are on.
    """
    batch = ids.shape[0]
    p = mask_probability(t, eps, device=ids.device).reshape(-1, 1).expand(batch, 1)
    draw_device = generator.device if generator is not None else ids.device
    draws = torch.rand(ids.shape, generator=generator, device=draw_device).to(ids.device)
    masked = draws < p
    if protect is not None:
        masked = masked & ~protect.to(device=ids.device, dtype=torch.bool).expand_as(masked)
    noisy = torch.where(masked, torch.full_like(ids, mask_id), ids)
    return noisy, masked, p


def noise_protection(model: Any, ids: torch.Tensor, protect_bos: bool) -> torch.Tensor:
    """Positions of ``ids`` ``[N, S]`` that forward noising never masks: bool ``[N, S]`` on ``ids``' device.

    Dream (``logit_shift`` 1) never masks its first and last position when S ≥ 2 (its training
    and the released pruning code). ``protect_bos``: also never mask ``model.bos_id`` tokens.
    The sink analysis protects BOS, the pruning statistics do not, as the released pruning code
    does not (its LLaDA noise may mask every position); docs/method.md §2 states both choices.
    """
    protect = torch.zeros_like(ids, dtype=torch.bool)
    if protect_bos and model.bos_id is not None:
        protect |= ids == model.bos_id
    if model.logit_shift and ids.shape[1] >= 2:
        protect[:, 0] = True
        protect[:, -1] = True
    return protect
