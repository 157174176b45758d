"""Part 2.2 of the audit: sink-aware pruning against the baseline it modifies, per model,
sparsity and task, with standard errors from main.csv, and the paper's claims in plain words."""

from __future__ import annotations

import math

import pandas as pd

from sinkprune.audit.compare import our_rows
from sinkprune.prune.names import SINK_BASELINES

# |difference| / stderr above which a difference is called significant (≈95 % two-sided).
Z_SIGNIFICANT = 2.0


def _verdict(diff: float, se: float, near_chance: bool) -> str:
    if near_chance:
        return "uninformative (both near chance)"
    if not math.isfinite(se) or se == 0:
        return "no stderr: not tested"
    z = diff / se
    if z >= Z_SIGNIFICANT:
        return "sink-aware better"
    if z <= -Z_SIGNIFICANT:
        return "baseline better"
    return "no significant difference"


def pruning_pairs(ours: pd.DataFrame) -> pd.DataFrame:
    """Sink-aware minus baseline per model, pair, sparsity and task (percentage points).

    ``se`` combines both stderrs as if independent.  Both methods are scored on the same items,
    so the true (paired) stderr is smaller: the test is conservative.  A comparison where both
    scores lie within 2 stderr of chance says nothing about pruning and is marked so.
    """
    out = []
    for sink, base in SINK_BASELINES.items():
        for (model, sparsity), grp in ours[ours["method"] == sink].groupby(["model", "sparsity"], sort=True):
            base_rows = our_rows(ours, model, base, str(sparsity))
            for _, r in grp.sort_values("task").iterrows():
                b = base_rows[base_rows["task"] == r["task"]]
                if b.empty:
                    continue
                b = b.iloc[0]
                diff = float(r["value"] - b["value"])
                se = math.sqrt(float(r["stderr"]) ** 2 + float(b["stderr"]) ** 2)
                chance = float(r.get("chance", math.nan))
                near = all(
                    math.isfinite(chance) and v - chance < Z_SIGNIFICANT * max(float(s), 1e-9)
                    for v, s in ((r["value"], r["stderr"]), (b["value"], b["stderr"]))
                )
                out.append({"model": model, "sink_method": sink, "baseline": base, "sparsity": str(sparsity),
                            "task": r["task"], "sink_aware": float(r["value"]), "baseline_value": float(b["value"]),
                            "diff": diff, "se": se, "chance": chance, "verdict": _verdict(diff, se, near)})
    cols = ["model", "sink_method", "baseline", "sparsity", "task", "sink_aware", "baseline_value",
            "diff", "se", "chance", "verdict"]
    return pd.DataFrame(out, columns=cols)


def pruning_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Mean over tasks of sink-aware minus baseline per model, pair and sparsity."""
    rows = []
    keys = ["model", "sink_method", "baseline", "sparsity"]
    for (model, sink, base, sparsity), grp in pairs.groupby(keys, sort=True):
        informative = grp[~grp["verdict"].str.startswith("uninformative")]
        if informative.empty:
            rows.append({"model": model, "sink_method": sink, "baseline": base, "sparsity": sparsity,
                         "tasks": 0, "mean_diff": math.nan, "se": math.nan,
                         "verdict": "uninformative (every task near chance)"})
            continue
        k = len(informative)
        mean = float(informative["diff"].mean())
        se = math.sqrt(float((informative["se"] ** 2).sum())) / k
        rows.append({"model": model, "sink_method": sink, "baseline": base, "sparsity": sparsity,
                     "tasks": k, "mean_diff": mean, "se": se, "verdict": _verdict(mean, se, False)})
    return pd.DataFrame(rows, columns=["model", "sink_method", "baseline", "sparsity", "tasks",
                                       "mean_diff", "se", "verdict"])


def pruning_claims(summary: pd.DataFrame) -> list[str]:
    """Plain-language verdicts on 'sink-aware beats its baseline' and 'gains largest at 75 %'."""
    lines = []
    for (model, sink, base), grp in summary.groupby(["model", "sink_method", "baseline"], sort=True):
        tested = grp[grp["mean_diff"].notna()]
        better = (tested["verdict"] == "sink-aware better").sum()
        worse = (tested["verdict"] == "baseline better").sum()
        lines.append(
            f"{model}: {sink} vs {base}: significantly better at {better} of {len(grp)} sparsities, "
            f"significantly worse at {worse}, no significant difference or untestable at "
            f"{len(grp) - better - worse}. Claim 'beats its baseline at every sparsity': "
            f"{'holds' if better == len(grp) and len(grp) else 'not supported'} at this scale."
        )
        if len(tested) >= 2:
            top = tested.loc[tested["mean_diff"].idxmax()]
            highest = max(tested["sparsity"], key=_sparsity_key)
            holds = top["sparsity"] == highest and top["verdict"] == "sink-aware better"
            lines.append(
                f"{model}: {sink} vs {base}: largest mean gain {top['mean_diff']:+.2f} pp at sparsity "
                f"{top['sparsity']} (highest tested: {highest}). Claim 'largest gain at the highest "
                f"sparsity': {'holds' if holds else 'not supported'} at this scale."
            )
    return lines


def _sparsity_key(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return math.inf
