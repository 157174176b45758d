"""One flat function per pruning method (docs/method.md §4–6); each prunes a ``SinkModel`` in place.

Layer-sequential methods (wanda, sparsegpt, sink_sparsegpt) propagate the clean calibration batch
block by block: statistics of block i's seven linear inputs are gathered on the unpruned block,
all seven are pruned, then block i's pruned outputs become block i+1's inputs (as released).
One-shot methods (magnitude, sink_wanda, structured variants) use the dense model's statistics
(:func:`dense_statistics`), which a prune job measures once and reuses at every sparsity.

``*_unstable`` methods are the paper's wording, "suppress unstable sinks": ω = 1 at stable sinks
(``sinks.tau``), ω = 1 − s elsewhere; the released code never gates (``sinks.gate: none``).
Under ``protocol: released`` every method counts, thresholds and handles N:M as the released
code does (sinkprune.prune.sparsity; docs/deviations.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sinkprune.prune.capture import Chunk, embed_chunks, input_hooks, run_layer_chunks
from sinkprune.prune.importance import (accumulated_scores, channel_scores, channels_to_keep,
                                        magnitude_scores, sum_squares, wanda_scores)
from sinkprune.prune.names import METHODS, NEEDS_SHARED, STRUCTURED, UNSTRUCTURED  # noqa: F401 (re-exported)
from sinkprune.prune.settings import BATCH_SIZE, PruneSettings
from sinkprune.prune.sparsegpt import HessianAccumulator, sparsegpt_prune
from sinkprune.prune.sparsity import Sparsity, row_mask, select_mask
from sinkprune.prune.stats import SharedStats, channel_norms, hide_keys, pad_keys, sink_wanda_accumulators


def _zero(module: torch.nn.Linear, mask: torch.Tensor) -> None:
    module.weight.data[mask] = 0


@torch.no_grad()
def prune_magnitude(model: Any, sparsity: Sparsity, released: bool = False) -> None:
    """|W|; unstructured uses one threshold per weight matrix, as released, N:M per group.

    corrected removes exactly round(ratio·numel) weights per matrix; the released ``<=``
    threshold (``released=True``) removes one more.
    """
    for i in range(model.num_layers):
        for module in model.linear_modules(i).values():
            _zero(module, select_mask(magnitude_scores(module.weight), sparsity, layer_wide=True, released=released))


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
def prune_wanda(model: Any, ids: torch.Tensor, sparsity: Sparsity, released: bool = False) -> None:
    """Wanda: ``|W_ij|·sqrt(mean X_j²)`` per output row (or N:M), layer-sequential on clean ``ids`` ``[N, S]``.

    Per row: round(ratio·D_in) weights. ``released``: the reference's ``int(D_in·ratio)``, its
    running-mean ``scaler_row`` and one sequence per forward pass, so scores round as its do.
    """
    chunks = embed_chunks(model, ids, batch_size=1 if released else BATCH_SIZE)
    tokens = ids.numel()
    for i in range(model.num_layers):
        modules = model.linear_modules(i)
        sq = {name: torch.zeros(m.in_features, device=m.weight.device) for name, m in modules.items()}
        seen = {name: 0 for name in modules}

        def add(name: str, x: torch.Tensor, rows: slice) -> None:
            if not released:
                sq[name] += sum_squares(x)
                return
            for row in x:  # the reference's running mean, one sequence per update (WrappedGPT)
                sq[name] *= seen[name] / (seen[name] + 1)
                seen[name] += 1
                sq[name] += torch.norm(row.float().t(), p=2, dim=1) ** 2 / seen[name]

        _gather_layer(model, i, chunks, add)
        for name, module in modules.items():
            scores = (magnitude_scores(module.weight) * torch.sqrt(sq[name].reshape(1, -1)) if released
                      else wanda_scores(module.weight, sq[name], tokens))
            _zero(module, select_mask(scores, sparsity, released=released))
        chunks = run_layer_chunks(model, i, chunks)


@torch.no_grad()
def prune_sparsegpt(model: Any, ids: torch.Tensor, sparsity: Sparsity, percdamp: float = 0.01,
                    blocksize: int = 128, omega: torch.Tensor | None = None, released: bool = False,
                    pads: torch.Tensor | None = None) -> None:
    """SparseGPT, layer-sequential on clean ``ids`` ``[N, S]``; H from ``ω ⊙ X`` when ``omega`` ``[N, S]``.

    ``released``: the reference's ``<=`` block threshold. pads: bool ``[S]`` of keys hidden from
    attention in every sequence (released Dream sink-aware SparseGPT reuses the pad mask of the
    last calibration window for all of them).
    """
    chunks = embed_chunks(model, ids, batch_size=1 if released else BATCH_SIZE)
    if pads is not None:
        chunks = [(h, hide_keys(model, ctx, pads.expand(h.shape[0], -1)), sl) for h, ctx, sl in chunks]
    for i in range(model.num_layers):
        modules = model.linear_modules(i)
        hessians = {name: HessianAccumulator(m.in_features, released, device=m.weight.device)
                    for name, m in modules.items()}

        def add(name: str, x: torch.Tensor, rows: slice) -> None:
            hessians[name].add(x, None if omega is None else omega[rows])

        _gather_layer(model, i, chunks, add)
        for name, module in modules.items():
            pruned, _ = sparsegpt_prune(module.weight.data, hessians[name].hessian(), sparsity,
                                        percdamp=percdamp, blocksize=blocksize, released=released)
            module.weight.data.copy_(pruned)
        chunks = run_layer_chunks(model, i, chunks)


@torch.no_grad()
def prune_sink_wanda(model: Any, acc: dict[str, torch.Tensor], sparsity: Sparsity, released: bool = False) -> None:
    """Sink-aware Wanda (released ``sink``): ``|W_ij|·acc_j`` from the dense one-shot accumulators.

    acc: :func:`~sinkprune.prune.stats.sink_wanda_accumulators` of the dense model (the
    ``*_unstable`` variant's for it). Per output row, or N:M. The released code ignores N:M here
    and prunes ``int(D_in·N/M)`` per row instead; ``released=True`` does the same.
    """
    for i in range(model.num_layers):
        for name, module in model.linear_modules(i).items():
            scores = accumulated_scores(module.weight, acc[f"{i}.{name}"])
            mask = row_mask(scores, sparsity.ratio, released=True) if released else select_mask(scores, sparsity)
            _zero(module, mask)


def prune_sink_sparsegpt(model: Any, ids: torch.Tensor, shared: SharedStats, sparsity: Sparsity,
                         percdamp: float = 0.01, blocksize: int = 128, released: bool = False,
                         unstable: bool = False) -> None:
    """Sink-aware SparseGPT (released ``sink_sgpt``): SparseGPT with H from ``ω̄ ⊙ X``, ω̄ = 1 − s̄.

    ``unstable``: ω̄ = 1 at stable sinks (paper wording). ``released``: the reference's block
    threshold and, for Dream, the release's pad mask (that of the last calibration window).
    """
    pads = pad_keys(model, ids[-1:], released)
    prune_sparsegpt(model, ids, sparsity, percdamp, blocksize, omega=shared.omega_bar(unstable), released=released,
                    pads=None if pads is None else pads[0])


@torch.no_grad()
def structured_keep(model: Any, norms: dict[int, torch.Tensor], ratio: float) -> list[torch.Tensor]:
    """MLP channels each layer keeps (sorted indices) when ``round(ratio·I)`` are removed by
    ``Σ_rows |W_down[:, c]|·‖X_c‖₂``; norms: ``Σ X_c²`` per layer of the dense model
    (:func:`dense_statistics`; ``Σ (ω̄ X)_c²`` for sink-aware structured)."""
    return [channels_to_keep(channel_scores(model.linear_modules(i)["down_proj"].weight, norms[i]), ratio)
            for i in range(model.num_layers)]


@torch.no_grad()
def prune_structured(model: Any, norms: dict[int, torch.Tensor], ratio: float) -> None:
    """Remove ``round(ratio·I)`` MLP channels per layer (:func:`structured_keep`), one shot.

    The layers become physically smaller (``SinkModel.keep_mlp_channels``).
    """
    for i, keep in enumerate(structured_keep(model, norms, ratio)):
        model.keep_mlp_channels(i, keep)


def dense_statistics(model: Any, method: str, ids: torch.Tensor, shared: SharedStats | None,
                     released: bool = False) -> dict | None:
    """What a one-shot ``method`` measures on the still dense ``model`` before pruning it, or None.

    sink_wanda(_unstable): its accumulators (a second pass over the noisy inputs of ``shared``);
    structured / sink_structured: channel norms of a clean pass over ``ids`` ``[N, S]`` (ω̄-weighted
    for the latter). The other methods measure nothing beyond the calibration batch and ``shared``.
    ``shared`` is moved to the model's device; the result lives there.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method in NEEDS_SHARED and shared is None:
        raise ValueError(f"method {method!r} needs the shared statistics (prune stats)")
    ids = ids.to(model.device)
    shared = None if shared is None else shared.to(model.device)
    if method in ("sink_wanda", "sink_wanda_unstable"):
        return sink_wanda_accumulators(model, ids, shared, unstable=method.endswith("_unstable"))
    if method == "structured":
        return channel_norms(model, ids, released=released)
    if method == "sink_structured":
        return channel_norms(model, ids, shared.omega_bar(), released=released)
    return None


def prune_model(model: Any, method: str, sparsity: Sparsity, ids: torch.Tensor,
                shared: SharedStats | None, settings: PruneSettings, dense: dict | None = None) -> None:
    """Dispatch ``method`` (one of :data:`METHODS`) on ``model`` in place.

    dense: :func:`dense_statistics` of this (still dense) model, when the caller prunes the same
    dense model at several sparsities; measured here when None.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method in NEEDS_SHARED and shared is None:
        raise ValueError(f"method {method!r} needs the shared statistics (prune stats)")
    if method in STRUCTURED and sparsity.is_nm:
        raise ValueError(f"structured methods take a channel ratio like '0.30', got {sparsity.tag}")
    # Calibration batch and statistics join the model on its device (no-ops on the CPU).
    ids = ids.to(model.device)
    shared = None if shared is None else shared.to(model.device)
    if dense is None:
        dense = dense_statistics(model, method, ids, shared, settings.released)
    if method in STRUCTURED:
        prune_structured(model, dense, sparsity.ratio)
    elif method == "magnitude":
        prune_magnitude(model, sparsity, settings.released)
    elif method == "wanda":
        prune_wanda(model, ids, sparsity, settings.released)
    elif method == "sparsegpt":
        prune_sparsegpt(model, ids, sparsity, settings.percdamp, settings.blocksize, released=settings.released)
    elif method in ("sink_wanda", "sink_wanda_unstable"):
        prune_sink_wanda(model, dense, sparsity, settings.released)
    else:
        prune_sink_sparsegpt(model, ids, shared, sparsity, settings.percdamp, settings.blocksize, settings.released,
                             unstable=method.endswith("_unstable"))
