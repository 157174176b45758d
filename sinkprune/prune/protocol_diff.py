"""How far ``protocol: released`` and ``protocol: corrected`` masks differ, per method and sparsity.

One process prunes the dense model both ways for every method and sparsity of the config, on the
same calibration batch (the config's), each protocol with its own sink scores (their noise
streams differ) and each method's own statistics of the dense model, and counts the mask entries that differ. Unstructured methods compare the
zero pattern of every prunable linear weight; structured methods compare the removed MLP
channels. Nothing is read from stored pruned checkpoints, so the job needs only the dense model.

CSV columns (docs/deviations.md): model, method, sparsity, entries (mask entries compared),
differing, share_differing (differing / entries), released_pruned, corrected_pruned (entries
each protocol removes).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

from sinkprune.prune.capture import all_linear_modules
from sinkprune.prune.importance import channel_scores, channels_to_keep
from sinkprune.prune.methods import NEEDS_SHARED, STRUCTURED, dense_statistics, prune_model
from sinkprune.prune.settings import PROTOCOLS, PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import SharedStats, compute_shared_stats

@dataclass
class KnownMasks:
    """Masks one protocol already gave in this process: ``(method, sparsity string) → mask``, as
    :func:`weight_masks` of the pruned model (unstructured methods), and its sink scores."""

    protocol: str
    masks: dict[tuple[str, str], torch.Tensor] = field(default_factory=dict)
    shared: SharedStats | None = None


COLUMNS = ["model", "method", "sparsity", "entries", "differing", "share_differing", "released_pruned",
           "corrected_pruned"]


def weight_masks(model: Any) -> torch.Tensor:
    """Zero pattern of every prunable linear weight, flattened and concatenated (bool)."""
    return torch.cat([(m.weight.detach() == 0).flatten().cpu() for m in all_linear_modules(model).values()])


def channel_masks(model: Any, norms: dict[int, torch.Tensor], ratio: float) -> torch.Tensor:
    """Removed MLP channels of every layer under structured pruning at ``ratio`` (bool, concatenated).

    norms: channel norms of the dense model per layer (:func:`~sinkprune.prune.methods.dense_statistics`).
    """
    masks = []
    for i in range(model.num_layers):
        down = model.linear_modules(i)["down_proj"]
        removed = torch.ones(down.in_features, dtype=torch.bool)
        removed[channels_to_keep(channel_scores(down.weight, norms[i].to(down.weight.device)), ratio).cpu()] = False
        masks.append(removed)
    return torch.cat(masks)


def masks_of(model: Any, method: str, spec: str, ids: torch.Tensor, shared: SharedStats | None,
             settings: PruneSettings, dense: dict | None = None) -> torch.Tensor:
    """The mask ``method`` at ``spec`` gives on the dense ``model`` (left unchanged) under ``settings``.

    dense: the method's :func:`~sinkprune.prune.methods.dense_statistics` of ``model`` (measured
    here when None).
    """
    sparsity = parse_sparsity(spec)
    if dense is None:
        dense = dense_statistics(model, method, ids, shared, settings.released)
    if method in STRUCTURED:
        return channel_masks(model, dense, sparsity.ratio)
    pruned = copy.deepcopy(model)
    prune_model(pruned, method, sparsity, ids, shared, settings, dense)
    return weight_masks(pruned)


def diff_rows(model: Any, name: str, ids: torch.Tensor, config: dict[str, Any],
              known: KnownMasks | None = None) -> list[dict[str, Any]]:
    """One row per method × sparsity of ``config`` (see the module docstring for the columns).

    known: masks of the config's own protocol already computed by the pruning in this process;
    only the other protocol is pruned then.
    """
    base = PruneSettings.from_config(config)
    settings = {p: PruneSettings(**{**vars(base), "protocol": p}) for p in PROTOCOLS}
    prune = config["prune"]
    methods = list(prune["methods"])
    known = known or KnownMasks(base.protocol)
    shared: dict[str, SharedStats | None] = {p: None for p in PROTOCOLS}
    if any(m in NEEDS_SHARED for m in methods):
        shared = {p: known.shared if p == known.protocol and known.shared is not None
                  else compute_shared_stats(model, ids, base.sinks, base.seed, protocol=p) for p in PROTOCOLS}
    rows = []
    for method in methods:
        specs = prune.get("structured_ratios", []) if method in STRUCTURED else prune["sparsities"]
        to_prune = [p for p in PROTOCOLS if p != known.protocol or any((method, s) not in known.masks for s in specs)]
        # each method's statistics of the dense model, once per protocol for all its sparsities
        dense = {p: dense_statistics(model, method, ids, shared[p] if method in NEEDS_SHARED else None,
                                     settings[p].released) for p in to_prune}
        for spec in specs:
            released, corrected = (masks_of(model, method, spec, ids, shared[p], settings[p], dense[p])
                                   if p in to_prune else known.masks[(method, spec)]
                                   for p in ("released", "corrected"))
            differing = int((released != corrected).sum())
            rows.append({"model": name, "method": method, "sparsity": parse_sparsity(spec).tag,
                         "entries": released.numel(), "differing": differing,
                         "share_differing": differing / released.numel(),
                         "released_pruned": int(released.sum()), "corrected_pruned": int(corrected.sum())})
    return rows


def run_protocol_diff(model_dir: str | Path, name: str, calib: str | Path, config_path: str | Path,
                      out: str | Path) -> pd.DataFrame:
    """Write the protocol-difference CSV of the dense model at ``model_dir`` to ``out``."""
    from sinkprune.device import placement
    from sinkprune.models import load_model
    from sinkprune.prune.api import load_calibration

    config = yaml.safe_load(Path(config_path).read_text())
    settings = PruneSettings.from_config(config)
    torch.set_num_threads(settings.threads)  # byte-identical results need a fixed thread count
    device, dtype = placement(config)
    model = load_model(model_dir, device=device, dtype=dtype)
    return write_protocol_diff(model, name, load_calibration(calib), config, out)


def write_protocol_diff(model: Any, name: str, ids: torch.Tensor, config: dict[str, Any],
                        out: str | Path, known: KnownMasks | None = None) -> pd.DataFrame:
    """Write the protocol-difference CSV of the dense ``model`` (left unchanged) to ``out``."""
    table = pd.DataFrame(diff_rows(model, name, ids, config, known), columns=COLUMNS)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.6f")
    return table
