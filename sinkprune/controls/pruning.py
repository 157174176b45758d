"""Planted pruning control: does sink-aware pruning keep more non-sink behaviour when its
premise holds by construction, and nothing more when it does not?

Two matched settings per repetition (same background seed, calibration and evaluation rows):
- ``planted``: :func:`sinkprune.controls.planted.plant_massive`: position 0 is an attention sink
  (two bias-only layer-0 heads) whose activations dominate ``channels`` input channels of q,
  gate and up in every layer, channels that only the sink's own computation reads. Each row
  starts with one of ``channels`` first tokens, each with its own sign pattern in those
  channels, so the sink's rows span them in XᵀX (what SparseGPT weighs) as well as dominating
  their norms (what Wanda weighs);
- ``no_sink``: the same background and rows without that write.
In both, the mask token's embedding is zero, so mask tokens add nothing to the layer-0 input
statistics of the noised calibration passes that sink-aware Wanda accumulates (otherwise one
repeated vector would dominate them and sink-aware Wanda would differ from Wanda with or
without a sink).

Each setting is pruned by the real code (``compute_shared_stats`` + ``prune_model``) with Wanda,
SparseGPT and their sink-aware variants at each sparsity. Non-sink behaviour: relative error
(%) of the blocks' contribution to the final hidden state (last hidden − embedding) at every
position except the first, on held-out rows, against the dense model. Gain = base error −
sink-aware error; mean and 95 % t-interval over repetitions.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
import torch
from scipy import stats as scipy_stats

from sinkprune.controls.data import sink_first_rows
from sinkprune.controls.planted import build_background, first_token_ids, plant_massive
from sinkprune.controls.settings import ControlSettings
from sinkprune.prune.methods import dense_statistics, prune_model
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import compute_shared_stats

PAIRS = {"sink_wanda": "wanda", "sink_sparsegpt": "sparsegpt"}
SETTINGS = ("planted", "no_sink")
LEVEL = 0.95


@torch.no_grad()
def block_output(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """The blocks' contribution (last hidden − embedding) at positions 1… (all but the sink) of ``ids``."""
    return model.last_hidden(ids)[:, 1:] - model.backbone.model.embed_tokens(ids)[:, 1:]


@torch.no_grad()
def nonsink_error(pruned: Any, dense: Any, ids: torch.Tensor, ref: torch.Tensor | None = None) -> float:
    """Relative squared error (%) of the blocks' output at positions 1… of ``ids``; ``ref``: the
    dense model's :func:`block_output` on ``ids`` when already computed."""
    embedded = dense.backbone.model.embed_tokens(ids)[:, 1:]
    ours = pruned.last_hidden(ids)[:, 1:] - embedded
    if ref is None:
        ref = block_output(dense, ids)
    return float(((ours - ref) ** 2).sum() / (ref ** 2).sum()) * 100.0


def setting_model(controls: ControlSettings, setting: str, seed: int) -> Any:
    """The dense model of a setting (``planted`` or ``no_sink``) on the background of ``seed``."""
    model = build_background(controls.prune_arch(), seed)
    with torch.no_grad():
        model.backbone.model.embed_tokens.weight[model.mask_id] = 0.0
    if setting == "planted":
        plant_massive(model, controls.channels, controls.gain)
    elif setting != "no_sink":
        raise ValueError(f"pruning control setting must be one of {', '.join(SETTINGS)}, got {setting!r}")
    return model


def control_batches(controls: ControlSettings, rep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(calibration, held-out) rows ``[n_samples, seq_len]`` of repetition ``rep``.

    Every first token starts at least one calibration row, so the sink's rows span all of R.
    """
    if controls.prune_samples < controls.channels:
        raise ValueError(f"controls.pruning.n_samples ({controls.prune_samples}) must be at least "
                         f"controls.pruning.channels ({controls.channels}): each first token must start a "
                         "calibration row for the sink to span its channels")
    tokens = first_token_ids(controls.channels)
    seed = controls.rep_seeds(rep)["data"]
    rows = [sink_first_rows(controls.prune_samples, controls.seq_len, controls.vocab_size, tokens, s)
            for s in (seed, seed + 10_000)]
    return rows[0], rows[1]


def error_table(controls: ControlSettings, prune: PruneSettings) -> pd.DataFrame:
    """One row per repetition × setting × method × sparsity with the non-sink error (%)."""
    rows = []
    for rep in range(controls.prune_reps):
        seeds = controls.rep_seeds(rep)
        calib, held_out = control_batches(controls, rep)
        for setting in SETTINGS:
            dense = setting_model(controls, setting, seeds["planted"])
            shared = compute_shared_stats(dense, calib, prune.sinks, prune.seed + rep)
            sink_share = float(shared.scores[:, :, 0].mean())
            ref = block_output(dense, held_out)
            # One-shot statistics of the dense model serve every sparsity (as in a prune job).
            once = {m: dense_statistics(dense, m, calib, shared, prune.released)
                    for pair in PAIRS.items() for m in pair}
            for sparsity in controls.prune_sparsities:
                for method in [m for pair in PAIRS.items() for m in pair]:
                    model = copy.deepcopy(dense)
                    prune_model(model, method, parse_sparsity(sparsity), calib, shared, prune, dense=once[method])
                    rows.append({"rep": rep, "setting": setting, "sparsity": sparsity, "method": method,
                                 "error_pct": nonsink_error(model, dense, held_out, ref),
                                 "first_position_sink_score": sink_share})
    return pd.DataFrame(rows)


def t_interval(values: list[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean over repetitions."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def gain_summary(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per setting × pair × sparsity: base and sink-aware mean error, gain [95 % CI], verdict."""
    out = []
    wide = table.pivot_table(index=["setting", "sparsity", "rep"], columns="method", values="error_pct")
    for setting in SETTINGS:
        for sink, base in PAIRS.items():
            for sparsity in sorted({s for s_, s, _ in wide.index if s_ == setting}):
                sub = wide.loc[(setting, sparsity)]
                gains = (sub[base] - sub[sink]).tolist()
                mean, low, high = t_interval(gains)
                if low > 0:
                    verdict = "sink-aware better"
                elif high < 0:
                    verdict = "baseline better"
                else:
                    verdict = "no significant difference"
                out.append({"setting": setting, "sink_method": sink, "baseline": base, "sparsity": sparsity,
                            "baseline_error_pct": float(sub[base].mean()),
                            "sink_error_pct": float(sub[sink].mean()), "gain_pp": mean, "ci": [low, high],
                            "reps": len(gains), "verdict": verdict})
    return out
