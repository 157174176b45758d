"""Shared timing helper of the benchmark scripts (run as ``python bench/<script>.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeats: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Fastest of ``repeats`` timed calls after one warm-up call, in seconds of ``clock``.

    The minimum, not the mean: on shared CPUs other work only ever adds time. With one torch
    thread, ``clock=time.process_time`` (this process's CPU time) is nearly immune to other jobs.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)
