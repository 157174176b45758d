"""Bootstrap confidence intervals over sequences, paired across models by sharing indices.

Every model is analysed on the same calibration sequences (the first ``analysis_samples``), so
drawing one index matrix per sequence count and reusing it for every model and statistic gives a
paired bootstrap: differences between models (the claim's gaps) get their CI from the same
resampled sequences.
"""

from __future__ import annotations

import numpy as np

from sinkprune.sinks.stats import nan_mean

LEVEL = 0.95


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """int ``[B, n]``: ``resamples`` draws of n sequence indices with replacement (seeded)."""
    if n < 1:
        raise ValueError("bootstrap needs at least one sequence")
    return np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n))


def resampled_means(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Mean over sequences of each resample (NaN-ignoring): ``[N]`` × ``[B, N]`` → ``[B]``."""
    return nan_mean(np.asarray(values, dtype=np.float64)[indices], axis=1)


def interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap samples ``[B]`` (NaN if none is finite)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def mean_ci(values: np.ndarray, indices: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, CI low, CI high) of per-sequence ``values`` ``[N]`` with the given resample indices."""
    mean = float(nan_mean(values))
    return (mean,) + interval(resampled_means(values, indices), level)
