"""Measured sparsity and size of a (pruned) model, for the JSON report."""

from __future__ import annotations

import resource
import sys
from typing import Any


def sparsity_report(model: Any) -> dict[str, Any]:
    """Zero fraction of the prunable linear weights per layer and overall, and parameter counts.

    ``overall_sparsity`` is over the seven linear layers of every block (the released
    ``check_sparsity``); ``parameters`` counts every parameter tensor (embeddings, norms, head),
    ``nonzero_parameters`` those that are not exactly zero.
    """
    per_layer, zeros, total = [], 0, 0
    for i in range(model.num_layers):
        z = n = 0
        for module in model.linear_modules(i).values():
            z += int((module.weight == 0).sum())
            n += module.weight.numel()
        per_layer.append(z / n)
        zeros += z
        total += n
    params = sum(p.numel() for p in model.parameters())
    nonzero = sum(int((p != 0).sum()) for p in model.parameters())
    return {"layer_sparsity": per_layer, "overall_sparsity": zeros / total,
            "linear_parameters": total, "parameters": params, "nonzero_parameters": nonzero,
            "intermediate_sizes": list(model.intermediate_sizes())}


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS).

    RSS rather than tracemalloc: torch allocates tensors outside Python's allocator.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
