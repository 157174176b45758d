"""Importance scores of weights and MLP channels (pure tensor functions; docs/method.md §4–6).

All activations ``x`` are ``[B, S, D_in]`` inputs of one linear layer; ``omega`` is the per-token
weight ω = 1 − s ``[B, S]`` (None means ω ≡ 1). Scores are fp32; the lowest are pruned.
"""

from __future__ import annotations

import torch


def magnitude_scores(weight: torch.Tensor) -> torch.Tensor:
    """``|W|`` ``[D_out, D_in]``."""
    return weight.detach().float().abs()


def sum_squares(x: torch.Tensor, omega: torch.Tensor | None = None) -> torch.Tensor:
    """Per-feature ``Σ_tokens (ω·x)²`` ``[D_in]`` (summed over batch and sequence)."""
    x = x.detach().float()
    if omega is not None:
        x = x * omega.to(device=x.device, dtype=x.dtype).unsqueeze(-1)
    return (x * x).reshape(-1, x.shape[-1]).sum(dim=0)


def sequence_norms(x: torch.Tensor, omega: torch.Tensor | None = None) -> torch.Tensor:
    """Per-feature ``Σ_b ‖(ω_b ⊙ X_b)[:, j]‖₂`` ``[D_in]``: one L2 norm per sequence, then summed.

    The released sink-aware Wanda adds one norm per forward pass at batch size 1; summing
    per-sequence norms keeps that quantity independent of how sequences are batched.
    """
    x = x.detach().float()
    if omega is not None:
        x = x * omega.to(device=x.device, dtype=x.dtype).unsqueeze(-1)
    return torch.linalg.vector_norm(x, ord=2, dim=1).sum(dim=0)


def wanda_scores(weight: torch.Tensor, sq_sum: torch.Tensor, tokens: int) -> torch.Tensor:
    """Wanda ``|W_ij| · sqrt(mean_tokens X_j²)`` ``[D_out, D_in]`` from ``Σ X_j²`` over ``tokens``."""
    return magnitude_scores(weight) * torch.sqrt(sq_sum.to(weight.device).float() / max(tokens, 1)).reshape(1, -1)


def accumulated_scores(weight: torch.Tensor, acc: torch.Tensor) -> torch.Tensor:
    """Sink-aware Wanda ``|W_ij| · acc_j`` ``[D_out, D_in]`` with ``acc`` ``[D_in]`` summed norms."""
    return magnitude_scores(weight) * acc.to(weight.device).float().reshape(1, -1)


def channel_scores(down_weight: torch.Tensor, channel_sq_sum: torch.Tensor) -> torch.Tensor:
    """Group score of each MLP intermediate channel c: ``Σ_rows |W_down[:, c]| · ‖X_c‖₂``.

    down_weight: ``[D_model, I]``; channel_sq_sum: ``Σ_tokens X_c²`` ``[I]`` of the down-projection
    input (ω-weighted for the sink-aware variant). Returns ``[I]``.
    """
    return magnitude_scores(down_weight).sum(dim=0) * torch.sqrt(channel_sq_sum.to(down_weight.device).float())


def channels_to_keep(scores: torch.Tensor, ratio: float) -> torch.Tensor:
    """Sorted indices of the channels kept after removing the lowest ``round(ratio·I)`` scores.

    The released code has no structured method (``dllm_struct`` is an accepted name its entry
    point never dispatches), so both protocols count with ``round`` here.

    scores: ``[I]``. Returns LongTensor ``[I − round(ratio·I)]`` in ascending channel order, so
    kept channels retain their relative order.
    """
    total = scores.numel()
    drop = int(round(ratio * total))
    if drop >= total:
        raise ValueError(f"structured ratio {ratio} would remove all {total} channels")
    order = torch.sort(scores.float(), stable=True).indices
    return torch.sort(order[drop:]).values
