"""The one chunking rule of every batched pass (pruning statistics, trajectories, likelihoods).

Results are byte-identical only at fixed batch boundaries, so every stage cuts its batches here.
"""

from __future__ import annotations


def chunk_slices(n: int, batch_size: int) -> list[slice]:
    """Consecutive slices of ``range(n)`` of length ``batch_size`` (the last one shorter)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    return [slice(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
