"""The random-position control of every sink statistic (docs/method.md §3, Controls).

What "random" means, statistic by statistic (the same definitions in the table legend):
- ``dominant_var``, ``centroid_var``, ``spatial_var``: the model's own mass vector at every
  timestep is permuted uniformly at random over the positions that exist then (independently
  per timestep and sequence), and the statistic is recomputed; mean over ``BASELINE_DRAWS``
  permutations per sequence. The dominant position is then drawn uniformly from
  {0, …, ℓ_t − 1} (the "random argmax"); sinks keep their number and mass but not their place.
- ``top1_share``, ``topk_share``, ``strong_head_share``, ``sink_presence`` do not depend on
  where the mass sits, so permuting leaves them unchanged; their baseline is uniform attention
  (every existing key receives the same mass): top-1 share 1/ℓ_t, top-k share min(k, ℓ_t)/ℓ_t,
  no strong head, no sink.
- ``dominant_kind_*``: the chance that a uniformly drawn existing position holds that kind
  (the kind composition of the sequence, averaged over timesteps); ``sink_kind_*``: the kind
  composition of all existing positions pooled over timesteps.
"""

from __future__ import annotations

import zlib

import numpy as np

from sinkprune.sinks.kinds import KIND_NAMES
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.stats import (
    dominant_positions,
    positional_variance,
    scope_heads,
    sink_centroids,
    sink_score_array,
    nan_mean,
    spatial_variance,
    valid_positions,
)

BASELINE_DRAWS = 20


def baseline_rng(seed: int, *names: str) -> np.random.Generator:
    """Generator keyed by the config seed and names (model, trajectory, scope): stable across runs."""
    return np.random.default_rng([seed] + [zlib.crc32(n.encode()) for n in names])


def permutation_orders(lengths: np.ndarray, shape: tuple[int, int, int], draws: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Index arrays ``[R, T, N, S]``: a uniform permutation of the positions i < ℓ_t, padding after."""
    keys = rng.random((draws,) + shape)
    padding = ~valid_positions(lengths, shape[-1])[None, :, None, :]  # [1, T, 1, S]
    keys[np.broadcast_to(padding, keys.shape)] = np.inf  # padding sorts last, so stays padding
    return np.argsort(keys, axis=-1, kind="stable")


def uniform_dominant_variance(lengths: np.ndarray, seq_len: int) -> float:
    """Closed form of E[Var_t(d_t)] / S² for d_t ~ U{0..ℓ_t−1} independent over t.

    E[(1/T)Σ(d_t − d̄)²] = (1 − 1/T)·mean_t σ_t² + Var_t(μ_t) with μ_t = (ℓ_t − 1)/2 and
    σ_t² = (ℓ_t² − 1)/12. Used by the tests to check the permutation baseline.
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    steps = len(lengths)
    sigma2 = (lengths ** 2 - 1) / 12.0
    mu = (lengths - 1) / 2.0
    return float(((1 - 1 / steps) * sigma2.mean() + mu.var()) / seq_len ** 2)


def baseline_statistics(mass: np.ndarray, kinds: np.ndarray, lengths: np.ndarray, settings: SinkSettings,
                        scope: str, rng: np.random.Generator,
                        draws: int = BASELINE_DRAWS) -> dict[str, np.ndarray]:
    """Random-position value of every statistic (see module docstring) → name → ``[N]``.

    mass: ``[T, N, L, H, S]``; kinds: ``[T, N, S]``; lengths: ``[T]``.
    """
    M = scope_heads(mass, scope).sum(axis=(2, 3))  # [T, N, S]
    steps, n, seq_len = M.shape
    lengths = np.asarray(lengths)
    scores = sink_score_array(M, lengths, settings)
    order = permutation_orders(lengths, M.shape, draws, rng)
    permuted = np.take_along_axis(np.broadcast_to(M, order.shape), order, axis=-1)
    permuted_scores = np.take_along_axis(np.broadcast_to(scores, order.shape), order, axis=-1)
    dominant = np.stack([positional_variance(dominant_positions(p, lengths), seq_len) for p in permuted])
    centroid = np.stack([positional_variance(sink_centroids(p, s), seq_len)
                         for p, s in zip(permuted, permuted_scores)])
    spatial = np.stack([spatial_variance(p, lengths) for p in permuted])
    ones = np.ones(n)
    out = {
        "dominant_var": dominant.mean(axis=0),
        "centroid_var": nan_mean(centroid, axis=0),
        "sink_presence": 0.0 * ones,
        "top1_share": float(np.mean(1.0 / lengths)) * ones,
        "topk_share": float(np.mean(np.minimum(settings.top_k, lengths) / lengths)) * ones,
        "spatial_var": spatial.mean(axis=0),
        "strong_head_share": 0.0 * ones,
    }
    valid = valid_positions(lengths, seq_len)[:, None, :]  # [T, 1, S]
    for code, name in enumerate(KIND_NAMES):
        is_kind = (kinds == code) & valid
        out[f"dominant_kind_{name}"] = (is_kind.sum(axis=-1) / lengths[:, None]).mean(axis=0)
        out[f"sink_kind_{name}"] = is_kind.sum(axis=(0, 2)) / float(lengths.sum())
    return out
