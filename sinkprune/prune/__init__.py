"""Pruning methods of the paper (docs/method.md §4–6): magnitude, Wanda, SparseGPT, their sink-aware
variants and structured MLP-channel pruning.

Core math is in pure tensor functions (``sparsity``, ``importance``, ``sparsegpt``); ``stats``
computes the sink scores once per model and each method's own statistics of the dense model;
``methods`` holds one function per method; ``api`` and ``__main__`` are the file-level edges
used by ``rules/prune.smk``.
"""

from importlib import import_module
from typing import Any

# Exports are loaded on first use (PEP 562): the Snakefile imports ``sinkprune.prune.names`` at
# DAG build time, which must not pay torch's multi-second import.
_EXPORTS = {"METHODS": "names", "prune_model": "methods", "PruneSettings": "settings",
            "Sparsity": "sparsity", "parse_sparsity": "sparsity", "SharedStats": "stats",
            "compute_shared_stats": "stats"}

__all__ = ["METHODS", "PruneSettings", "SharedStats", "Sparsity", "compute_shared_stats",
           "parse_sparsity", "prune_model"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sinkprune.prune' has no attribute {name!r}")
    return getattr(import_module(f"sinkprune.prune.{_EXPORTS[name]}"), name)
