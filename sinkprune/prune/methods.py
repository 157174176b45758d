"""One flat function per pruning method (docs/method.md §4–6); each prunes a ``SinkModel`` in place.

Layer-sequential methods (wanda, sparsegpt, sink_sparsegpt) propagate the clean calibration batch
block by block: statistics of block i's seven linear inputs are gathered on the unpruned block,
all seven are pruned, then block i's pruned outputs become block i+1's inputs (as released).
One-shot methods (magnitude, sink_wanda, structured variants) use the dense model's statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sinkprune.prune.capture import Chunk, embed_chunks, input_hooks, run_layer_chunks
from sinkprune.prune.importance import (accumulated_scores, channel_scores, channels_to_keep,
                                        magnitude_scores, sum_squares, wanda_scores)
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsegpt import HessianAccumulator, sparsegpt_prune
from sinkprune.prune.sparsity import Sparsity, select_mask
from sinkprune.prune.stats import SharedStats

UNSTRUCTURED = ("magnitude", "wanda", "sparsegpt", "sink_wanda", "sink_sparsegpt")
STRUCTURED = ("structured", "sink_structured")
METHODS = UNSTRUCTURED + STRUCTURED
NEEDS_SHARED = ("sink_wanda", "sink_sparsegpt", "structured", "sink_structured")


def _zero(module: torch.nn.Linear, mask: torch.Tensor) -> None:
    module.weight.data[mask] = 0


@torch.no_grad()
def prune_magnitude(model: Any, sparsity: Sparsity) -> None:
    """|W|; unstructured uses one threshold per weight matrix (released code), N:M per group."""
    for i in range(model.num_layers):
        for module in model.linear_modules(i).values():
            _zero(module, select_mask(magnitude_scores(module.weight), sparsity, layer_wide=True))


@torch.no_grad()
def _gather_layer(model: Any, i: int, chunks: list[Chunk],
                  add: Callable[[str, torch.Tensor, slice], None]) -> None:
    """Run block ``i`` on every chunk with hooks calling ``add(name, x [B,S,D_in], rows)``."""
    current: dict[str, slice] = {}
    with input_hooks(model.linear_modules(i), lambda name, x: add(name, x, current["rows"])):
        for hidden, ctx, rows in chunks:
            current["rows"] = rows
            model.run_layer(i, hidden, ctx)


@torch.no_grad()
def prune_wanda(model: Any, ids: torch.Tensor, sparsity: Sparsity) -> None:
    """Wanda: ``|W_ij|·sqrt(mean X_j²)`` per output row (or N:M), layer-sequential on clean ``ids`` ``[N, S]``."""
    chunks = embed_chunks(model, ids)
    tokens = ids.numel()
    for i in range(model.num_layers):
        modules = model.linear_modules(i)
        sq = {name: torch.zeros(m.in_features) for name, m in modules.items()}

        def add(name: str, x: torch.Tensor, rows: slice) -> None:
            sq[name] += sum_squares(x)

        _gather_layer(model, i, chunks, add)
        for name, module in modules.items():
            _zero(module, select_mask(wanda_scores(module.weight, sq[name], tokens), sparsity))
        chunks = run_layer_chunks(model, i, chunks)


@torch.no_grad()
def prune_sparsegpt(model: Any, ids: torch.Tensor, sparsity: Sparsity, percdamp: float = 0.01,
                    blocksize: int = 128, omega: torch.Tensor | None = None) -> None:
    """SparseGPT, layer-sequential on clean ``ids`` ``[N, S]``; H from ``ω ⊙ X`` when ``omega`` ``[N, S]``."""
    chunks = embed_chunks(model, ids)
    for i in range(model.num_layers):
        modules = model.linear_modules(i)
        hessians = {name: HessianAccumulator(m.in_features) for name, m in modules.items()}

        def add(name: str, x: torch.Tensor, rows: slice) -> None:
            hessians[name].add(x, None if omega is None else omega[rows])

        _gather_layer(model, i, chunks, add)
        for name, module in modules.items():
            pruned, _ = sparsegpt_prune(module.weight.data, hessians[name].hessian(), sparsity,
                                        percdamp=percdamp, blocksize=blocksize)
            module.weight.data.copy_(pruned)
        chunks = run_layer_chunks(model, i, chunks)


@torch.no_grad()
def prune_sink_wanda(model: Any, shared: SharedStats, sparsity: Sparsity) -> None:
    """Sink-aware Wanda (released ``sink``): ``|W_ij|·acc_j`` from the dense one-shot accumulators.

    Per output row, or N:M (the released code ignores N:M here; this implements it).
    """
    for i in range(model.num_layers):
        for name, module in model.linear_modules(i).items():
            _zero(module, select_mask(accumulated_scores(module.weight, shared.acc[f"{i}.{name}"]), sparsity))


def prune_sink_sparsegpt(model: Any, ids: torch.Tensor, shared: SharedStats, sparsity: Sparsity,
                         percdamp: float = 0.01, blocksize: int = 128) -> None:
    """Sink-aware SparseGPT (released ``sink_sgpt``): SparseGPT with H from ``ω̄ ⊙ X``, ω̄ = 1 − s̄."""
    prune_sparsegpt(model, ids, sparsity, percdamp, blocksize, omega=shared.omega_bar())


@torch.no_grad()
def prune_structured(model: Any, shared: SharedStats, ratio: float, sink: bool = False) -> None:
    """Remove ``round(ratio·I)`` MLP channels per layer by ``Σ_rows |W_down[:, c]|·‖X_c‖₂``.

    ``sink=True`` uses ``‖(ω̄ ⊙ X)_c‖₂``. Norms come from the dense model (one shot); the layers
    become physically smaller (``SinkModel.keep_mlp_channels``).
    """
    norms = shared.channel_sq_sink if sink else shared.channel_sq
    for i in range(model.num_layers):
        down = model.linear_modules(i)["down_proj"]
        keep = channels_to_keep(channel_scores(down.weight, norms[i]), ratio)
        model.keep_mlp_channels(i, keep)


def prune_model(model: Any, method: str, sparsity: Sparsity, ids: torch.Tensor,
                shared: SharedStats | None, settings: PruneSettings) -> None:
    """Dispatch ``method`` (one of :data:`METHODS`) on ``model`` in place."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method in NEEDS_SHARED and shared is None:
        raise ValueError(f"method {method!r} needs the shared statistics (prune stats)")
    if method in STRUCTURED:
        if sparsity.is_nm:
            raise ValueError(f"structured methods take a channel ratio like '0.30', got {sparsity.tag}")
        prune_structured(model, shared, sparsity.ratio, sink=method == "sink_structured")
    elif method == "magnitude":
        prune_magnitude(model, sparsity)
    elif method == "wanda":
        prune_wanda(model, ids, sparsity)
    elif method == "sparsegpt":
        prune_sparsegpt(model, ids, sparsity, settings.percdamp, settings.blocksize)
    elif method == "sink_wanda":
        prune_sink_wanda(model, shared, sparsity)
    else:
        prune_sink_sparsegpt(model, ids, shared, sparsity, settings.percdamp, settings.blocksize)
