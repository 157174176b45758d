"""Per-sequence sink statistics over a trajectory (docs/method.md §3). Pure numpy, no model.

Notation: ``M[t, n, i]`` is the received mass of sequence n at timestep t, summed over heads and
either over all layers (scope ``all``, the released code's m_t) or within one layer (scope
``layer{l}``); only positions ``i < ℓ_t`` (``lengths[t]``) exist at timestep t. S is the
trajectory's longest sequence. Every function returns one value per sequence, ``[N]`` float64
(NaN where undefined), so confidence intervals come from resampling sequences.
"""

from __future__ import annotations

import numpy as np
import torch

from sinkprune.sinks.kinds import KIND_NAMES
from sinkprune.sinks.scores import sink_scores
from sinkprune.sinks.settings import SinkSettings

# Statistic name → one-line meaning (also the table's legend).
STATISTICS = {
    "dominant_var": "Var_t(argmax_i m_t(i)) / S^2 (temporal variance of the dominant sink position)",
    "centroid_var": "Var_t(c_t) / S^2, c_t = mass-weighted mean position of sinks s_t(i) > 0.5",
    "sink_presence": "share of timesteps with at least one sink s_t(i) > 0.5",
    "top1_share": "mean_t of max_i m_t(i) / sum_i m_t(i)",
    "topk_share": "mean_t of (sum of the k largest m_t(i)) / sum_i m_t(i)",
    "spatial_var": "Var_i(mean_t m_t(i) / mean_j m_t(j)) (mass in multiples of uniform)",
    "strong_head_share": "share of (layer, head, timestep) whose top key gets > ratio x uniform mass",
    **{f"dominant_kind_{k}": f"share of timesteps whose dominant position is a {k} token" for k in KIND_NAMES},
    **{f"sink_kind_{k}": f"share of sink positions (s_t(i) > 0.5) that are {k} tokens" for k in KIND_NAMES},
}


def nan_mean(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean ignoring NaN; NaN (without a warning) where every value is NaN."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def scope_names(num_layers: int) -> list[str]:
    """``all`` then ``layer0`` … ``layer{L-1}``."""
    return ["all"] + [f"layer{i}" for i in range(num_layers)]


def scope_heads(mass: np.ndarray, scope: str) -> np.ndarray:
    """Per-head mass of a scope: ``[T, N, L, H, S]`` → ``[T, N, L', H, S]`` (L' = L or 1), float64."""
    if scope == "all":
        return mass.astype(np.float64)
    layer = int(scope.removeprefix("layer"))
    return mass[:, :, layer:layer + 1].astype(np.float64)


def valid_positions(lengths: np.ndarray, seq_len: int) -> np.ndarray:
    """bool ``[T, S]``: position i exists at timestep t (i < ℓ_t)."""
    return np.arange(seq_len)[None, :] < np.asarray(lengths)[:, None]


def dominant_positions(M: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """d_t = argmax over existing positions of ``M`` ``[T, N, S]`` → int ``[T, N]`` (first on ties)."""
    masked = np.where(valid_positions(lengths, M.shape[-1])[:, None, :], M, -np.inf)
    return masked.argmax(axis=-1)


def positional_variance(positions: np.ndarray, seq_len: int) -> np.ndarray:
    """Population variance over timesteps of ``positions`` ``[T, N]`` (NaN = absent) / S² → ``[N]``.

    NaN for a sequence with fewer than two defined timesteps (no variance to speak of).
    """
    positions = np.asarray(positions, dtype=np.float64)
    count = np.isfinite(positions).sum(axis=0)
    out = np.full(positions.shape[1], np.nan)
    ok = count >= 2
    if ok.any():
        out[ok] = np.nanvar(positions[:, ok], axis=0) / float(seq_len) ** 2
    return out


def sink_score_array(M: np.ndarray, lengths: np.ndarray, settings: SinkSettings) -> np.ndarray:
    """s_t(i) under ``settings.rule`` over the existing positions of each timestep → ``[T, N, S]`` (0 beyond)."""
    scores = np.zeros_like(M)
    for t, length in enumerate(np.asarray(lengths)):
        row = torch.from_numpy(np.ascontiguousarray(M[t, :, :length]))
        scores[t, :, :length] = sink_scores(row, rule=settings.rule, alpha=settings.alpha, k=settings.k,
                                            eps=settings.hard_eps).double().numpy()
    return scores


def sink_centroids(M: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """c_t = Σ_{i∈S_t} m_t(i)·i / Σ_{i∈S_t} m_t(i), S_t = {i : s_t(i) > 0.5} → ``[T, N]``, NaN if S_t = ∅."""
    sinks = scores > 0.5
    weight = np.where(sinks, M, 0.0)
    total = weight.sum(axis=-1)
    position = np.arange(M.shape[-1], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sinks.any(axis=-1), (weight * position).sum(axis=-1) / total, np.nan)


def top_share(M: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """mean_t of the share of mass on the k largest existing positions → ``[N]``."""
    valid = valid_positions(lengths, M.shape[-1])[:, None, :]
    values = np.where(valid, M, 0.0)
    top = -np.sort(-values, axis=-1)[..., :k].sum(axis=-1)
    return (top / values.sum(axis=-1)).mean(axis=0)


def spatial_variance(M: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Var_i of the time-averaged mass profile, mass in multiples of uniform → ``[N]``.

    Dividing m_t by its mean over existing positions makes models with different L, H and
    prefix lengths comparable (uniform attention gives a flat profile of ones, variance 0).
    Positions present at only some timesteps (AR prefixes) average over those timesteps.
    """
    valid = valid_positions(lengths, M.shape[-1])[:, None, :]
    mean = np.where(valid, M, 0.0).sum(axis=-1, keepdims=True) / np.asarray(lengths)[:, None, None]
    normalised = np.where(valid, M / mean, np.nan)
    profile = nan_mean(normalised, axis=0)  # [N, S]; S is the longest step, so every i exists once
    return np.nanvar(profile, axis=-1)


def strong_head_share(heads: np.ndarray, lengths: np.ndarray, ratio: float) -> np.ndarray:
    """Share of (layer, head, timestep) whose most-attended key gets > ratio × its uniform share.

    heads: ``[T, N, L', H, S]``. A head's received mass sums to its number of queries, so the
    uniform share of one key is ``Σ_i m(i) / ℓ_t``. → ``[N]``.
    """
    valid = valid_positions(lengths, heads.shape[-1])[:, None, None, None, :]
    values = np.where(valid, heads, 0.0)
    uniform = values.sum(axis=-1) / np.asarray(lengths)[:, None, None, None]
    strong = values.max(axis=-1) > ratio * uniform  # [T, N, L', H]
    return strong.transpose(1, 0, 2, 3).reshape(heads.shape[1], -1).mean(axis=1)


def kind_shares(positions: np.ndarray, kinds: np.ndarray) -> dict[str, np.ndarray]:
    """Share of timesteps whose position ``positions[t, n]`` holds each token kind → name → ``[N]``."""
    picked = np.take_along_axis(kinds, positions[..., None], axis=-1)[..., 0]  # [T, N]
    return {name: (picked == code).mean(axis=0) for code, name in enumerate(KIND_NAMES)}


def sink_kind_shares(scores: np.ndarray, kinds: np.ndarray) -> dict[str, np.ndarray]:
    """Kind composition of all sink positions (s > 0.5) over the trajectory → name → ``[N]`` (NaN: no sinks)."""
    sinks = scores > 0.5
    total = sinks.sum(axis=(0, 2)).astype(np.float64)
    out = {}
    for code, name in enumerate(KIND_NAMES):
        count = (sinks & (kinds == code)).sum(axis=(0, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(total > 0, count / total, np.nan)
    return out


def sequence_statistics(mass: np.ndarray, kinds: np.ndarray, lengths: np.ndarray,
                        settings: SinkSettings, scope: str = "all") -> dict[str, np.ndarray]:
    """Every statistic of :data:`STATISTICS` for one scope → name → ``[N]``.

    mass: ``[T, N, L, H, S]`` per-head received mass; kinds: int ``[T, N, S]``; lengths: ``[T]``.
    """
    heads = scope_heads(mass, scope)
    M = heads.sum(axis=(2, 3))  # [T, N, S]
    seq_len = M.shape[-1]
    dominant = dominant_positions(M, lengths)
    scores = sink_score_array(M, lengths, settings)
    out = {
        "dominant_var": positional_variance(dominant, seq_len),
        "centroid_var": positional_variance(sink_centroids(M, scores), seq_len),
        "sink_presence": (scores > 0.5).any(axis=-1).mean(axis=0),
        "top1_share": top_share(M, lengths, 1),
        "topk_share": top_share(M, lengths, settings.top_k),
        "spatial_var": spatial_variance(M, lengths),
        "strong_head_share": strong_head_share(heads, lengths, settings.strong_head_ratio),
    }
    out.update({f"dominant_kind_{k}": v for k, v in kind_shares(dominant, kinds).items()})
    out.update({f"sink_kind_{k}": v for k, v in sink_kind_shares(scores, kinds).items()})
    return out
