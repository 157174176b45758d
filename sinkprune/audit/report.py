"""The audit page's blocks in order: what was compared, published numbers beside ours (part 1),
and the paper's claims at this scale (part 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from sinkprune.audit.claims import Z_SIGNIFICANT, pruning_claims, pruning_pairs, pruning_summary
from sinkprune.audit.compare import (AVG_EXTRA_TASKS, MISSING, N_BENCHMARKS, PUBLISHED_PROTOCOL,
                                     compare_published, fold_missing)
from sinkprune.audit.render import Block, table_block
from sinkprune.audit.sections import control_blocks, protocol_diff_blocks, sink_claim_blocks
from sinkprune.audit.settings import AuditSettings
from sinkprune.prune.names import SINK_BASELINES

# Shown columns of each table (data column -> header).
PUBLISHED_COLUMNS = {"model": "paper model", "table": "table", "method": "method", "sparsity": "sparsity",
                     "task": "task", "value": "published", "unit": "unit", "metric": "metric",
                     "our_model": "our model", "our_task": "our task", "ours": "ours (pp)", "stderr": "± stderr",
                     "diff": "abs diff (pp)", "implied_extra": "implied GPQA+RACE",
                     "ours_extra": "ours GPQA+RACE", "verdict": "verdict", "reason": "why"}
SUMMARY_COLUMNS = {"model": "model", "sink_method": "sink-aware", "baseline": "baseline", "sparsity": "sparsity",
                   "tasks": "tasks", "mean_diff": "mean diff (pp)", "se": "se", "verdict": "verdict"}
PAIR_COLUMNS = {"model": "model", "sink_method": "sink-aware", "sparsity": "sparsity", "task": "task",
                "sink_aware": "sink-aware (pp)", "baseline_value": "baseline (pp)", "diff": "diff", "se": "se",
                "chance": "chance", "verdict": "verdict"}


def build_report(published: pd.DataFrame, ours: pd.DataFrame | None, claim_path: str | Path,
                 settings: AuditSettings, main_path: str, protocol_diffs: Iterable[str | Path] = (),
                 control_files: Iterable[str | Path] = ()) -> tuple[list[Block], pd.DataFrame]:
    """The report's blocks and the part-1 comparison table.

    ``ours``: main.csv (None when absent); ``claim_path``: the sinks stage's sink_variance.json;
    ``protocol_diffs``: the prune stage's protocol_diff.csv files; ``control_files``: the controls
    stage's sink_power.json and pruning.json. Absent files are reported in the page.
    """
    cmp = compare_published(published, ours, settings)
    counts = cmp["verdict"].value_counts()
    blocks: list[Block] = [
        ("h1", "Audit: sinkprune results against the published numbers"),
        ("p", f"Scale `{settings.scale}`; tolerance {settings.tolerance:g} percentage points; "
              f"published values in fractions are compared ×100. Our numbers: `{main_path}`."),
        ("ul", [f"{counts.get(v, 0)} {v}" for v in ("pass", "fail", MISSING, "not transcribed")]),
    ]
    blocks += _opening(ours, claim_path, protocol_diffs)
    blocks += _published_blocks(cmp, published, ours, settings, main_path)
    blocks.append(("h2", "2. The paper's claims at this scale"))
    blocks.append(("h3", "2.1 DLM sink positions vary more over time than AR sinks (against controls)"))
    blocks += sink_claim_blocks(claim_path)
    blocks.append(("h3", "2.1b Can the tests see the effects? Planted positive controls"))
    blocks += control_blocks(claim_path, control_files)
    blocks.append(("h3", "2.2 Sink-aware pruning against its baseline"))
    blocks += _pruning_blocks(ours)
    return blocks, cmp


def _published_blocks(cmp: pd.DataFrame, published: pd.DataFrame, ours: pd.DataFrame | None,
                      settings: AuditSettings, main_path: str) -> list[Block]:
    """Part 1: the assumptions, the protocols, and every published row beside ours."""
    blocks: list[Block] = [("h2", "1. Published numbers beside ours")]
    if ours is None:
        blocks.append(("p", f"`{main_path}` not found: no results to compare; every row is missing."))
    if not settings.model_map:
        blocks.append(("p", "No paper model is mapped to a config model (`audit.model_map` is empty), "
                            "as at mini scale, where the models are tiny stand-ins trained here: "
                            "their accuracies are not comparable with the paper's and are not compared."))
    extra = " + ".join(AVG_EXTRA_TASKS)
    blocks.append(("p", f"Assumption: the README's `Avg` is the mean of all {N_BENCHMARKS} benchmarks the paper "
                        f"evaluates (its listed tasks + {extra}), not of the listed tasks "
                        f"alone (dense: 57.93 vs 65.73). Then {N_BENCHMARKS} × Avg − Σ listed is the implied "
                        f"{extra} sum, shown beside ours, and our `Avg` is our {N_BENCHMARKS}-task mean."))
    blocks.append(("p", "Protocol and metric of each published number (release: `eval_llada.sh`, lm-eval 0.4.8):"))
    blocks.append(("table", (["task", "protocol", "metric"],
                             [[t, p, m] for t, (p, m) in PUBLISHED_PROTOCOL.items()])))
    shown, folded = fold_missing(cmp)
    if folded:
        blocks.append(("ul", folded))
    blocks.append(table_block(shown, PUBLISHED_COLUMNS))
    return blocks + [("p", "Sources:"), ("ul", sorted(set(published["source"])))]


def _pruning_blocks(ours: pd.DataFrame | None) -> list[Block]:
    """Part 2.2: sink-aware pruning against its baseline, summary and per task."""
    if ours is None:
        return [("p", "No main table: not checked.")]
    pairs = pruning_pairs(ours)
    if pairs.empty:
        return [("p", "main.csv has no sink-aware method together with its baseline "
                      f"({', '.join(f'{s} / {b}' for s, b in SINK_BASELINES.items())}): not checked.")]
    summary = pruning_summary(pairs)
    return [("p", f"Differences are sink-aware minus baseline in percentage points; `se` combines "
                  f"both stderrs as if independent (both methods see the same items, so this is "
                  f"conservative); significant means |diff| ≥ {Z_SIGNIFICANT:g}·se. Task rows "
                  f"where both scores are within {Z_SIGNIFICANT:g} stderr of chance are "
                  f"uninformative and left out of the mean."),
            ("ul", pruning_claims(summary)),
            table_block(summary, SUMMARY_COLUMNS),
            ("p", "Per task:"),
            table_block(pairs, PAIR_COLUMNS)]


def _opening(ours: pd.DataFrame | None, claim_path: str | Path,
             protocol_diffs: Iterable[str | Path]) -> list[Block]:
    """What the page compared: claim verdicts, then the protocol-difference table."""
    blocks: list[Block] = [("h2", "What was compared at this scale")]
    verdicts = [b for kind, b in sink_claim_blocks(claim_path) if kind == "p" and b.startswith("Verdict")]
    claims = [f"Sink variance (section 2.1): {v}" for v in verdicts]
    if ours is not None:
        pairs = pruning_pairs(ours)
        if not pairs.empty:
            claims += [f"{line} (section 2.2)" for line in pruning_claims(pruning_summary(pairs))]
    blocks.append(("ul", claims or ["No claim could be checked: the claims file and main table are missing."]))
    blocks.append(("h3", "Released vs corrected protocol"))
    blocks += protocol_diff_blocks(protocol_diffs)
    blocks.append(("p", "Every difference between sinkprune and the released code or the paper, with the "
                        "switch that selects it and its measured effect: `docs/deviations.md`."))
    return blocks
