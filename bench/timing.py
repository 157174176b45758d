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


def best_of_each(calls: dict[str, Callable[[], object]], repeats: int,
                 clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """:func:`best_of` for several calls, timed in interleaved rounds (one warm-up round first).

    Every round runs each call once, so calls whose times are compared saw the same load.
    """
    for fn in calls.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: min(values) for name, values in times.items()}
