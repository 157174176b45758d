"""Pruning methods of the paper (docs/method.md §4–6): magnitude, Wanda, SparseGPT, their sink-aware
variants and structured MLP-channel pruning.

Core math is in pure tensor functions (``sparsity``, ``importance``, ``sparsegpt``); ``stats``
computes the per-model shared statistics once; ``methods`` holds one function per method;
``api`` and ``__main__`` are the file-level edges used by ``rules/prune.smk``.
"""

from sinkprune.prune.methods import METHODS, prune_model
from sinkprune.prune.settings import PruneSettings, SinkSettings
from sinkprune.prune.sparsity import Sparsity, parse_sparsity
from sinkprune.prune.stats import SharedStats, compute_shared_stats

__all__ = ["METHODS", "PruneSettings", "SharedStats", "SinkSettings", "Sparsity", "compute_shared_stats",
           "parse_sparsity", "prune_model"]
