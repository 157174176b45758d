"""Which weights a pruning run removes, and how far two runs agree (e.g. bfloat16 vs float32,
cuda vs cpu): the same checkpoint and calibration batch pruned in two placements should remove
nearly the same weights.

A run's decisions: for unstructured and N:M methods, per linear layer ``"{layer}.{name}"`` the
bool mask of removed weights ``[D_out, D_in]``; for structured methods, per layer ``"{layer}.mlp"``
the bool mask of removed MLP channels ``[I]``. Agreement is the share of equal decisions over all
entries.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sinkprune.prune.methods import NEEDS_SHARED, STRUCTURED, dense_statistics, prune_model, structured_keep
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import compute_shared_stats


def removed_weights(model) -> dict[str, torch.Tensor]:
    """Bool ``weight == 0`` of every prunable linear layer, on the host."""
    return {f"{i}.{name}": (module.weight == 0).cpu()
            for i in range(model.num_layers) for name, module in model.linear_modules(i).items()}


def agreement(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Share of entries on which two runs' decisions (same keys and shapes) agree."""
    if a.keys() != b.keys():
        raise ValueError(f"runs prune different layers: {sorted(a.keys() ^ b.keys())[:4]}")
    same = sum(int((a[k] == b[k]).sum()) for k in a)
    return same / sum(a[k].numel() for k in a)


def pruning_decisions(model_dir: str | Path, ids: torch.Tensor, settings: PruneSettings, methods: list[str],
                      sparsity: str, structured_ratio: str, device: torch.device | str = "cpu",
                      dtype: torch.dtype = torch.float32) -> dict[str, dict[str, torch.Tensor]]:
    """Decisions of each method on the checkpoint at ``model_dir`` loaded in ``device`` / ``dtype``.

    The shared statistics are computed once, in the same placement; each method prunes a fresh
    copy. Unstructured methods run at ``sparsity``, structured ones at ``structured_ratio``.
    """
    from sinkprune.models import load_model

    dense = load_model(model_dir, device=device, dtype=dtype)
    shared = (compute_shared_stats(dense, ids, settings.sinks, settings.seed)
              if any(m in NEEDS_SHARED for m in methods) else None)
    out = {}
    for method in methods:
        model = load_model(model_dir, device=device, dtype=dtype)
        if method in STRUCTURED:
            ratio = parse_sparsity(structured_ratio).ratio
            norms = dense_statistics(model, method, ids, shared)  # corrected passes, as the scores above
            keeps = structured_keep(model, norms, ratio)
            removed = {}
            for i, keep in enumerate(keeps):
                mask = torch.ones(model.intermediate_sizes()[i], dtype=torch.bool)
                mask[keep.cpu()] = False
                removed[f"{i}.mlp"] = mask
            out[method] = removed
        else:
            prune_model(model, method, parse_sparsity(sparsity), ids, shared, settings)
            out[method] = removed_weights(model)
    return out
