"""Attention mass received per key position and the sink scores derived from it.

Formulas from docs/method.md §1 (released code of VILA-Lab/Sink-Aware-Pruning and the paper's figure).
Pure tensor functions: no model, no I/O.
"""

from __future__ import annotations

import torch


def soft_sink_scores(mass: torch.Tensor, alpha: float = 5.0, k: float = 2.0) -> torch.Tensor:
    """Soft sink score ``sigmoid(α·(m(i) − (mean m + k·std m)))`` over the last dim.

    mass: ``[..., S]`` received mass. std is the population std (released code).
    Returns scores in (0, 1) with the same shape.
    """
    mass = mass.float()
    mean = mass.mean(dim=-1, keepdim=True)
    std = mass.std(dim=-1, keepdim=True, correction=0)
    return torch.sigmoid(alpha * (mass - (mean + k * std)))


def hard_sinks(mass: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Paper-figure rule: i is a sink if ``m(i) > mean_{j≠i} m(j) + ε``.

    mass: ``[..., S]``. Returns a float tensor of 0/1 of the same shape, so it can stand in for
    the soft score wherever ω = 1 − s is used.
    """
    mass = mass.float()
    seq = mass.shape[-1]
    if seq < 2:
        raise ValueError("hard sink rule needs at least 2 positions")
    others = (mass.sum(dim=-1, keepdim=True) - mass) / (seq - 1)
    return (mass > others + eps).float()


def sink_scores(mass: torch.Tensor, rule: str = "soft", alpha: float = 5.0, k: float = 2.0,
                eps: float = 0.0) -> torch.Tensor:
    """Sink score per position under ``sink.rule`` (``soft`` default as released, or ``hard``)."""
    if rule == "soft":
        return soft_sink_scores(mass, alpha=alpha, k=k)
    if rule == "hard":
        return hard_sinks(mass, eps=eps)
    raise ValueError(f"sink.rule must be 'soft' or 'hard', got {rule!r}")


def stable_sink_gate(scores: torch.Tensor, tau: float = 0.9, threshold: float = 0.5) -> torch.Tensor:
    """Positions whose sink persists: s_t(i) > threshold in at least τ of the timesteps.

    scores: ``[T, ..., S]`` sink scores over T sampled timesteps. Returns a bool ``[..., S]``.
    The paper's ``sink.gate: unstable`` keeps ω = 1 at these (stable, AR-like) sinks.
    """
    return (scores > threshold).float().mean(dim=0) >= tau


def token_weights(scores: torch.Tensor, stable: torch.Tensor | None = None) -> torch.Tensor:
    """Down-weighting factor ω = 1 − s, with ω = 1 kept at stable sinks when a gate is given."""
    omega = 1.0 - scores.float()
    if stable is not None:
        omega = torch.where(stable, torch.ones_like(omega), omega)
    return omega
