"""Calibration-input capture on a ``SinkModel`` (docs/contracts.md): chunked embedding,
layer-by-layer propagation and forward hooks on the linear layers.

The layer-sequential methods (Wanda, SparseGPT and their variants) run the calibration batch
through block i, gather statistics of block i's linear inputs, prune block i, and feed block i's
*pruned* outputs to block i+1 (Catcher pattern of locuslab/wanda and IST-DASLab/sparsegpt).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from sinkprune.chunks import chunk_slices
from sinkprune.prune.settings import BATCH_SIZE

# (hidden [B, S, D], layer context from embed(), row slice of the calibration batch)
Chunk = tuple[torch.Tensor, Any, slice]


@torch.no_grad()
def embed_chunks(model: Any, ids: torch.Tensor, batch_size: int = BATCH_SIZE) -> list[Chunk]:
    """Embed ``ids`` ``[N, S]`` chunk by chunk; each chunk keeps its own context from ``embed``."""
    chunks = []
    for sl in chunk_slices(ids.shape[0], batch_size):
        hidden, ctx = model.embed(ids[sl].to(model.device))
        chunks.append((hidden, ctx, sl))
    return chunks


@torch.no_grad()
def run_layer_chunks(model: Any, i: int, chunks: list[Chunk]) -> list[Chunk]:
    """Outputs of block ``i`` for every chunk (contexts are reused unchanged)."""
    return [(model.run_layer(i, hidden, ctx), ctx, sl) for hidden, ctx, sl in chunks]


@contextmanager
def input_hooks(modules: dict[str, nn.Module],
                callback: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """Call ``callback(name, x)`` with the input ``x`` ``[B, S, D_in]`` of every forward of each module."""
    handles = []
    for name, module in modules.items():
        def hook(_mod: nn.Module, inputs: tuple, _out: Any, name: str = name) -> None:
            callback(name, inputs[0])
        handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def all_linear_modules(model: Any) -> dict[str, nn.Linear]:
    """Every prunable linear layer of every block, keyed ``"{layer}.{name}"``."""
    out: dict[str, nn.Linear] = {}
    for i in range(model.num_layers):
        for name, module in model.linear_modules(i).items():
            out[f"{i}.{name}"] = module
    return out
