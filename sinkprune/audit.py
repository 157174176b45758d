"""Audit: our results beside the published numbers, and honest verdicts on the paper's claims.

CLI::

    sinkprune audit --published paper/published.csv --main results/tables/main.csv \\
        --claims results/claims/ --config config/mini.yaml \\
        --out results/audit.md --html results/audit.html

Part 1 puts every row of ``paper/published.csv`` beside our number for the same model, method,
sparsity and task.  Paper names map to ours through the config (``audit.model_map``: paper model
-> config model key; ``audit.task_map``: paper task -> our task).  A row with no counterpart is
listed with the reason, never dropped: at mini scale no paper model is run, so those rows fold
into one line per published table.  Differences are in percentage points (fractions are scaled
by 100) and pass when within ``audit.tolerance``.  Each published number's protocol and metric
(``PUBLISHED_PROTOCOL``) is stated beside it.

The README's ``Avg`` is not the mean of the six tasks its table lists (dense 57.93 vs 65.73); it
is consistent with the mean of all eight benchmarks the paper evaluates (the six + GPQA + RACE).
The audit states this as an assumption, shows ``8 × Avg − Σ six`` (the implied GPQA + RACE
sum) beside our own GPQA + RACE sum, and compares ``Avg`` with our eight-task mean.

The page opens with what was compared: claim verdicts and, where the pruning stage wrote
``results/prune/{model}/protocol_diff.csv``, the share of mask entries that differ between the
``released`` and ``corrected`` protocols.

Part 2 checks the paper's qualitative claims on whatever models this scale runs: the sink
variance claim (read from ``results/claims/sink_variance.json``, written by the sinks stage) and
sink-aware pruning vs its baseline at each sparsity, with standard errors from main.csv.

The report is deterministic (no timestamps) so it can sit in the sha256 manifest.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

from sinkprune.checksums import atomic_write

# Sink-aware method -> the baseline it modifies (names as in the config and the published table).
SINK_PAIRS: dict[str, str] = {
    "sink_wanda": "wanda",
    "sink_sparsegpt": "sparsegpt",
    "sink_wanda_unstable": "wanda",
    "sink_sparsegpt_unstable": "sparsegpt",
    "sink_structured": "structured",
}
# |difference| / stderr above which a difference is called significant (≈95 % two-sided).
Z_SIGNIFICANT = 2.0
AVG_TASK = "Avg"  # the published mean over the table's tasks (and, by assumption, GPQA and RACE)
# Benchmarks the paper evaluates (eight) whose columns the README's unstructured table omits.
AVG_EXTRA_TASKS = ("GPQA", "RACE")
N_BENCHMARKS = 8
# Protocol and metric of each published number (paper task name). Source: the release's
# eval_llada.sh (lm-eval 0.4.8, LLaDA's eval_llada.py, batch_size 8) and README; metric choice:
# sinkprune/tables.py.
PUBLISHED_PROTOCOL: dict[str, tuple[str, str]] = {
    "MMLU": ("5-shot; Monte-Carlo log-likelihood, mc_num 1, no CFG", "acc"),
    "ARC-C": ("0-shot; Monte-Carlo log-likelihood, mc_num 128, cfg 0.5", "acc (unconfirmed; acc_norm in main.csv)"),
    "ARC-E": ("0-shot; no released command (as ARC-C, no CFG)", "acc (unconfirmed; acc_norm in main.csv)"),
    "PIQA": ("0-shot; Monte-Carlo log-likelihood, mc_num 128, cfg 0.5", "acc (unconfirmed; acc_norm in main.csv)"),
    "WinoG": ("5-shot; Monte-Carlo log-likelihood, mc_num 128, no CFG", "acc"),
    "GSM8K": ("5-shot (lm-eval default); generation 1024 tokens, 1024 steps, one block",
              "exact_match, flexible-extract (unconfirmed)"),
    "HellaSwag": ("0-shot; Monte-Carlo log-likelihood, mc_num 128, cfg 0.5", "acc_norm (inferred)"),
    "GPQA": ("5-shot gpqa_main_n_shot; Monte-Carlo log-likelihood, mc_num 128, cfg 0.5", "acc (unconfirmed)"),
    "RACE": ("0-shot; no released command", "acc"),
    AVG_TASK: ("mean of the eight benchmarks (assumption)", "each task's metric"),
}


@dataclass(frozen=True)
class AuditSettings:
    """The ``audit:`` section of a config."""

    tolerance: float = 1.0  # percentage points
    model_map: dict[str, str] = field(default_factory=dict)
    task_map: dict[str, str] = field(default_factory=dict)
    scale: str = "unknown"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AuditSettings":
        section = config.get("audit") or {}
        return cls(
            tolerance=float(section.get("tolerance", cls.tolerance)),
            model_map=dict(section.get("model_map") or {}),
            task_map=dict(section.get("task_map") or {}),
            scale=str(config.get("scale", "unknown")),
        )


# --------------------------------------------------------------------------------------------
# part 1: published rows beside ours
# --------------------------------------------------------------------------------------------
def read_published(path: str | Path) -> pd.DataFrame:
    """published.csv with every cell as the exact published string (no float round-trip)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    required = {"model", "table", "method", "sparsity", "task", "value", "unit", "source", "status"}
    missing = required - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    return df


def to_points(value: str, unit: str) -> float:
    """A published value in percentage points (``fraction`` values are scaled by 100)."""
    x = float(value)
    if unit == "fraction":
        return 100.0 * x
    if unit == "percent":
        return x
    raise ValueError(f"unknown unit {unit!r} (expected percent or fraction)")


def same_sparsity(a: str, b: str) -> bool:
    """'0.5' == '0.50' == '0.500'; non-numeric patterns such as '2:4' compare as text."""
    try:
        return math.isclose(float(a), float(b), abs_tol=1e-9)
    except ValueError:
        return a.strip() == b.strip()


def _our_rows(ours: pd.DataFrame, model: str, method: str, sparsity: str) -> pd.DataFrame:
    sel = ours[(ours["model"] == model) & (ours["method"] == method)]
    return sel[[same_sparsity(str(s), sparsity) for s in sel["sparsity"]]]


def avg_arithmetic(pub: pd.Series, published: pd.DataFrame) -> tuple[list[str], float, str]:
    """Paper tasks a published ``Avg`` averages, the implied sum of the unlisted ones, and the reason.

    When the Avg equals the mean of its row's listed tasks (up to rounding) those are its tasks;
    otherwise it is taken as the mean of all eight benchmarks (listed + ``AVG_EXTRA_TASKS``),
    so ``8 × Avg − Σ listed`` is the implied sum of the unlisted ones (an assumption, stated).
    """
    row = published[(published["model"] == pub["model"]) & (published["table"] == pub["table"])
                    & (published["method"] == pub["method"]) & (published["sparsity"] == pub["sparsity"])
                    & (published["task"] != AVG_TASK)]
    listed = list(row["task"])
    values = [to_points(v, u) for v, u in zip(row["value"], row["unit"])]
    avg = to_points(pub["value"], pub["unit"])
    if listed and abs(sum(values) / len(values) - avg) <= 0.01:  # equal up to the published rounding
        return listed, math.nan, f"comparable: published Avg is the mean of its {len(listed)} listed tasks"
    extra = [t for t in AVG_EXTRA_TASKS if t not in listed]
    implied = N_BENCHMARKS * avg - sum(values)
    reason = (f"comparable under the eight-benchmark assumption (Avg = mean of {', '.join(listed + extra)}; "
              f"not the mean of the {len(listed)} listed, {sum(values) / max(len(values), 1):.2f}): "
              f"{N_BENCHMARKS} × {pub['value']} − Σ listed {sum(values):.2f} = {implied:.2f} implied "
              f"{' + '.join(extra)}")
    return listed + extra, implied, reason


def match_row(pub: pd.Series, published: pd.DataFrame, ours: pd.DataFrame | None,
              settings: AuditSettings) -> dict[str, Any]:
    """Our counterpart of one published row: value, stderr (pp) and a verdict with its reason."""
    protocol, metric = PUBLISHED_PROTOCOL.get(pub["task"], ("", ""))
    out: dict[str, Any] = {"protocol": protocol, "metric": metric, "our_model": "", "our_task": "",
                           "ours": math.nan, "stderr": math.nan, "diff": math.nan, "implied_extra": math.nan,
                           "ours_extra": math.nan, "verdict": "", "reason": ""}
    if pub["status"] != "published":
        out.update(verdict="not transcribed", reason=pub["source"], protocol="", metric="")
        return out
    prefix = ""
    if pub["task"] == AVG_TASK:
        avg_tasks, out["implied_extra"], prefix = avg_arithmetic(pub, published)
        prefix += "; "
    our_model = settings.model_map.get(pub["model"])
    if not our_model:
        out.update(verdict="missing at this scale",
                   reason=f"{prefix}no config model mapped to {pub['model']} (audit.model_map)")
        return out
    out["our_model"] = our_model
    if ours is None or our_model not in set(ours["model"]):
        out.update(verdict="missing at this scale", reason=f"{prefix}{our_model} has no rows in main.csv")
        return out
    rows = _our_rows(ours, our_model, pub["method"], pub["sparsity"])
    if rows.empty:
        out.update(verdict="missing at this scale",
                   reason=f"{prefix}no {pub['method']} at sparsity {pub['sparsity']} for {our_model}")
        return out
    if pub["task"] == AVG_TASK:
        # Ours is the mean of the same tasks, comparable only when every one is mapped and present.
        mapped = [settings.task_map.get(t) for t in avg_tasks]
        have = rows.set_index("task")["value"].to_dict()
        extra = [settings.task_map.get(t) for t in AVG_EXTRA_TASKS if t in avg_tasks]
        if extra and all(m in have for m in extra):
            out["ours_extra"] = float(sum(have[m] for m in extra))
        absent = [t for t, m in zip(avg_tasks, mapped) if not m or m not in have]
        if absent:
            out.update(verdict="missing at this scale",
                       reason=f"{prefix}Avg needs every task; missing {', '.join(absent)}")
            return out
        vals = rows.set_index("task").loc[mapped]
        out.update(our_task="mean of " + ", ".join(mapped), ours=float(vals["value"].mean()),
                   stderr=float(math.sqrt((vals["stderr"] ** 2).sum()) / len(vals)))
    else:
        our_task = settings.task_map.get(pub["task"])
        if not our_task:
            out.update(verdict="missing at this scale", reason=f"task {pub['task']} not in audit.task_map")
            return out
        out["our_task"] = our_task
        hit = rows[rows["task"] == our_task]
        if hit.empty:
            out.update(verdict="missing at this scale", reason=f"{our_task} not evaluated")
            return out
        out.update(ours=float(hit["value"].iloc[0]), stderr=float(hit["stderr"].iloc[0]))
    out["diff"] = abs(out["ours"] - to_points(pub["value"], pub["unit"]))
    out["verdict"] = "pass" if out["diff"] <= settings.tolerance else "fail"
    out["reason"] = f"{prefix}|diff| {'<=' if out['verdict'] == 'pass' else '>'} {settings.tolerance:g} pp"
    return out


def compare_published(published: pd.DataFrame, ours: pd.DataFrame | None,
                      settings: AuditSettings) -> pd.DataFrame:
    """One row per published row (same order), with ours beside it."""
    rows = []
    for _, pub in published.iterrows():
        rows.append({**pub.to_dict(), **match_row(pub, published, ours, settings)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# part 2: claims at this scale
# --------------------------------------------------------------------------------------------
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
    for sink, base in SINK_PAIRS.items():
        for (model, sparsity), grp in ours[ours["method"] == sink].groupby(["model", "sparsity"], sort=True):
            base_rows = _our_rows(ours, model, base, str(sparsity))
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
    for (model, sink, base, sparsity), grp in pairs.groupby(["model", "sink_method", "baseline", "sparsity"], sort=True):
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


def _est(e: Any) -> str:
    """'value [low, high]' for the sinks stage's {"value", "ci"} estimates."""
    if isinstance(e, dict) and "value" in e:
        v, ci = e.get("value"), e.get("ci") or [None, None]
        fmt = lambda x: "undefined" if x is None else f"{x:.4g}"  # noqa: E731
        return f"{fmt(v)} [{fmt(ci[0])}, {fmt(ci[1])}]"
    return _fmt(e)


def sink_claim_blocks(claims_dir: str | Path) -> list[Block]:
    """Report blocks for results/claims/sink_variance.json (written by sinkprune.sinks.claim).

    Reads the sinks stage's schema: ``claim`` and ``test`` (text), ``summary`` (DLM model -> list
    of primary comparisons against each AR model, each with ``holds``, ``outcome`` and estimates
    ``{"value", "ci"}``), ``missing`` (DLMs without a comparison) and ``comparisons`` (every
    statistic and trajectory).  The verdict is the sinks stage's own; the audit only counts and
    shows it.  A missing file is reported, not an error; an unknown layout is listed leaf by leaf.
    """
    path = Path(claims_dir) / "sink_variance.json"
    if not path.is_file():
        return [("p", f"`{path.as_posix()}` not found: the sink-variance claim was not checked in this "
                      "run (it is written by the sinks stage: `snakemake results/claims/sink_variance.json`).")]
    data = json.loads(path.read_text())
    blocks: list[Block] = []
    if data.get("claim"):
        blocks.append(("p", f"Claim: {data['claim']}"))
    if data.get("test"):
        blocks.append(("p", f"Test: {data['test']}"))
    summary = data.get("summary")
    if isinstance(summary, dict):
        rows = [(dlm, r) for dlm in sorted(summary) for r in summary[dlm] if isinstance(r, dict)]
        held = sum(r.get("holds") is True for _, r in rows)
        verdict = ("holds" if rows and held == len(rows) else
                   "not shown" if held == 0 else "holds only in part")
        blocks.append(("p", f"Verdict against the untrained control: **{verdict}** at this scale "
                            f"({held} of {len(rows)} primary DLM-vs-AR comparisons hold)."))
        blocks.append(("table", (["DLM", "AR", "holds", "outcome", "excess over untrained gap [CI]",
                                  "DLM trained", "AR trained", "DLM untrained", "AR untrained"],
                                 [[dlm, _fmt(r.get("ar_model")), _fmt(r.get("holds")), _fmt(r.get("outcome")),
                                   _est(r.get("excess_over_untrained_gap")), _est(r.get("dlm_trained")),
                                   _est(r.get("ar_trained")), _est(r.get("dlm_untrained")),
                                   _est(r.get("ar_untrained"))] for dlm, r in rows])))
        if data.get("missing"):
            blocks.append(("p", "No comparison possible for: " + ", ".join(map(str, data["missing"]))
                                + " (a trajectory or an AR model is missing)."))
        comparisons = [c for c in data.get("comparisons", []) if isinstance(c, dict)]
        if comparisons:
            blocks.append(("p", "Every comparison (all statistics and DLM trajectories):"))
            # The random-position control sits beside each trained group: a statistic no larger
            # than its random value says nothing about learned sinks.
            groups = lambda c, k: _est((c.get("groups") or {}).get(k))  # noqa: E731
            blocks.append(("table", (["DLM", "AR", "trajectory", "statistic", "expected", "excess [CI]",
                                      "DLM trained", "DLM random", "AR trained", "AR random", "outcome"],
                                     [[_fmt(c.get("dlm_model")), _fmt(c.get("ar_model")),
                                       _fmt(c.get("dlm_trajectory")), _fmt(c.get("statistic")),
                                       _fmt(c.get("expected")), _est(c.get("excess_over_untrained_gap")),
                                       groups(c, "dlm_trained"), groups(c, "dlm_random"),
                                       groups(c, "ar_trained"), groups(c, "ar_random"),
                                       _fmt(c.get("outcome"))] for c in comparisons])))
        return blocks
    # Unknown layout: show a top-level verdict if there is one, and every recorded value.
    holds = data.get("holds")
    blocks.append(("p", f"Verdict: **{'holds' if holds else 'does not hold'}** at this scale."
                        if isinstance(holds, bool) else
                        "Verdict: the sinks stage recorded no verdict this audit can read."))
    leaves = list(_flatten({k: v for k, v in data.items() if k not in ("claim", "test", "holds")}))
    if leaves:
        blocks.append(("table", (["recorded value", ""], [[k, v] for k, v in leaves])))
    return blocks


def _flatten(obj: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(obj, dict):
        for k in sorted(obj):
            yield from _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list) and len(obj) > 8:
        yield prefix, f"[{len(obj)} values]"
    elif isinstance(obj, float):
        yield prefix, f"{obj:.4g}"  # sink statistics can be small: keep 4 significant digits
    else:
        yield prefix, _fmt(obj)


# --------------------------------------------------------------------------------------------
# planted positive controls (sinkprune.controls; docs/controls.md)
# --------------------------------------------------------------------------------------------
def control_blocks(claims_dir: str | Path) -> list[Block]:
    """Can the tests see the effects? The planted and untrained sink pairs (claim JSON), the sink
    test's detection power beside each stand-in's excess, and the planted pruning control, read
    from ``results/controls/`` beside the claims directory. Absent files are reported."""
    claims_path = Path(claims_dir) / "sink_variance.json"
    controls_dir = Path(claims_dir).parent / "controls"
    claim = json.loads(claims_path.read_text()) if claims_path.is_file() else {}
    blocks: list[Block] = []
    section = claim.get("controls") or {}
    if section.get("pairs"):
        blocks.append(("p", "Sink claim, positive and negative control (same test, primary statistic, "
                            f"planted strength {section.get('planted_strength')}); each pair is tested against "
                            "the untrained control of its own architecture:"))
        rows = []
        for group, comparisons in section["pairs"].items():
            for c in comparisons:
                rows.append([group, _fmt(c.get("statistic")), _est(c.get("excess_over_untrained_gap")),
                             _est(c["groups"].get("dlm_trained")), _est(c["groups"].get("ar_trained")),
                             _est(c["groups"].get("dlm_untrained")), _est(c["groups"].get("ar_untrained")),
                             _fmt(c.get("outcome"))])
        blocks.append(("table", (["pair", "statistic", "excess [CI]", "DLM", "AR", "DLM control",
                                  "AR control", "outcome"], rows)))
    else:
        blocks.append(("p", f"No planted controls in `{claims_path.as_posix()}` (config without `controls:`)."))
    power_path = controls_dir / "sink_power.json"
    if power_path.is_file():
        power = json.loads(power_path.read_text())
        mde = power.get("smallest_detectable_excess")
        excesses = {dlm: r[0]["excess_over_untrained_gap"] for dlm, r in (claim.get("summary") or {}).items() if r}
        blocks.append(("p", f"Detection power at N = {power['n_sequences']} sequences "
                            f"({power['repetitions']} planted repetitions per strength): the smallest excess the "
                            f"test calls 'holds' with {power['power_target']:.0%} power is "
                            f"**{'not reached on the grid' if mde is None else f'{mde:.4g}'}**; false-positive "
                            f"rate at strength 0: {_fmt(power.get('false_positive_rate'))}. Measured excess of "
                            "each trained stand-in, same unit: "
                            + ("; ".join(f"{d} {_est(e)}" for d, e in sorted(excesses.items())) or "none") + "."))
        blocks.append(("table", (["strength", "power", "mean excess", "sd", "DLM top-1 mass share"],
                                 [[f"{g['strength']:g}", _fmt(g["power"]), f"{g['mean_excess']:.4g}",
                                   f"{g['sd_excess']:.3g}", f"{g['mean_dlm_top1_share']:.3g}"]
                                  for g in power["grid"]])))
    else:
        blocks.append(("p", f"`{power_path.as_posix()}` not found: detection power not measured."))
    pruning_path = controls_dir / "pruning.json"
    if pruning_path.is_file():
        pruning = json.loads(pruning_path.read_text())
        blocks.append(("p", "Pruning claim, planted: sink-aware minus baseline in non-sink output error "
                            f"({pruning['metric']}); {pruning['level']:.0%} {pruning['interval']}. `planted`: "
                            f"the sink dominates {pruning['channels']} input channels that only it uses; "
                            "`no_sink`: the same models without it. Compare with 2.2 below (real stand-ins)."))
        blocks.append(("table", (["setting", "sink-aware", "baseline", "sparsity", "baseline err %",
                                  "sink-aware err %", "gain (pp) [CI]", "reps", "verdict"],
                                 [[g["setting"], g["sink_method"], g["baseline"], g["sparsity"],
                                   _fmt(g["baseline_error_pct"]), _fmt(g["sink_error_pct"]),
                                   _est({"value": g["gain_pp"], "ci": g["ci"]}), str(g["reps"]), g["verdict"]]
                                  for g in pruning["gains"]])))
    else:
        blocks.append(("p", f"`{pruning_path.as_posix()}` not found: the planted pruning control was not run."))
    return blocks


# --------------------------------------------------------------------------------------------
# rendering: one list of blocks, two renderers (Markdown and HTML)
# --------------------------------------------------------------------------------------------
def _fmt(v: Any, decimals: int = 2) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{decimals}f}"
    if isinstance(v, list):
        return ", ".join(_fmt(x, decimals) for x in v)
    return "" if v is None else str(v)


Block = tuple[str, Any]  # ("h1"|"h2"|"h3"|"p"|"ul", text or items) or ("table", (headers, rows))


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for kind, body in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + body)
        elif kind == "p":
            out.append(body)
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in body))
        elif kind == "table":
            headers, rows = body
            esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
            head = [h.replace("|", "\\|") for h in headers]
            out.append("\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(headers)]
                                 + ["| " + " | ".join(r) + " |" for r in esc]))
    return "\n\n".join(out) + "\n"


def render_html(blocks: list[Block], title: str) -> str:
    def inline(text: str) -> str:
        # Only the Markdown the report itself uses: **bold** and `code`.
        parts = html.escape(text).split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        parts = text.split("**")
        return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))

    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">", f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:75em;margin:2em auto}"
           "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;padding:2px 6px}"
           "td.pass{background:#dfd}td.fail{background:#fdd}td.missing{color:#777}</style></head><body>"]
    for kind, body in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{inline(body)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{inline(body)}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in body) + "</ul>")
        elif kind == "table":
            headers, rows = body
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
            for r in rows:
                cells = []
                for c in r:
                    cls = {"pass": "pass", "fail": "fail"}.get(c, "missing" if str(c).startswith("missing") else "")
                    cells.append(f"<td class=\"{cls}\">{html.escape(str(c))}</td>" if cls else f"<td>{html.escape(str(c))}</td>")
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _table(df: pd.DataFrame, columns: dict[str, str]) -> Block:
    """A table block from ``df`` with ``columns`` (df column -> header), cells formatted."""
    rows = [[_fmt(r[c]) for c in columns] for _, r in df.iterrows()]
    return ("table", (list(columns.values()), rows))


PROTOCOL_DIFF_COLUMNS = ("model", "method", "sparsity", "share_differing")
MISSING = "missing at this scale"


def protocol_diff_blocks(paths: Iterable[str | Path]) -> list[Block]:
    """The share of mask entries that differ between the released and corrected protocols."""
    paths = [Path(p) for p in paths]
    frames = []
    for path in paths:
        if not path.is_file():
            continue
        df = pd.read_csv(path, dtype={"sparsity": str})
        missing = set(PROTOCOL_DIFF_COLUMNS) - set(df.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        frames.append(df[list(PROTOCOL_DIFF_COLUMNS)])
    if not frames:
        return [("p", "No protocol-difference table was given (`results/prune/{model}/protocol_diff.csv`, "
                      "written by the prune stage): the released and corrected masks were not compared in this run.")]
    df = pd.concat(frames).sort_values(["model", "method", "sparsity"], kind="stable")
    df = df.assign(percent=100.0 * df["share_differing"].astype(float))
    rows = [[r["model"], r["method"], r["sparsity"], f"{r['percent']:.3f}"] for _, r in df.iterrows()]
    return [("p", "Share of mask entries that differ between `protocol: released` (the release's counting, "
                  "noise stream, N:M handling, Dream t draw and calibration windows) and `protocol: corrected` "
                  "for the same weights and seed (docs/deviations.md names each rule):"),
            ("table", (["model", "method", "sparsity", "differing mask entries (%)"], rows))]


def fold_missing(cmp: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows to show, and one line per published table for its task rows missing at this scale.

    ``Avg`` rows stay listed: they carry the eight-benchmark arithmetic.
    """
    folded = (cmp["verdict"] == MISSING) & (cmp["task"] != AVG_TASK)
    lines = []
    for (model, table), grp in cmp[folded].groupby(["model", "table"], sort=False):
        reasons = sorted(set(grp["reason"]))
        shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more reasons" if len(reasons) > 3 else "")
        lines.append(f"{model}, {table} table: {len(grp)} task rows {MISSING} ({shown})")
    return cmp[~folded], lines


def _opening(ours: pd.DataFrame | None, claims_dir: str | Path, protocol_diffs: Iterable[str | Path]) -> list[Block]:
    """What the page compared: claim verdicts, then the protocol-difference table."""
    blocks: list[Block] = [("h2", "What was compared at this scale")]
    verdicts = [b for kind, b in sink_claim_blocks(claims_dir) if kind == "p" and b.startswith("Verdict")]
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


def build_report(published: pd.DataFrame, ours: pd.DataFrame | None, claims_dir: str | Path,
                 settings: AuditSettings, main_path: str,
                 protocol_diffs: Iterable[str | Path] = ()) -> tuple[list[Block], pd.DataFrame]:
    """The report's blocks and the part-1 comparison table."""
    cmp = compare_published(published, ours, settings)
    counts = cmp["verdict"].value_counts()
    blocks: list[Block] = [
        ("h1", "Audit: sinkprune results against the published numbers"),
        ("p", f"Scale `{settings.scale}`; tolerance {settings.tolerance:g} percentage points; "
              f"published values in fractions are compared ×100. Our numbers: `{main_path}`."),
        ("ul", [f"{counts.get(v, 0)} {v}" for v in ("pass", "fail", MISSING, "not transcribed")]),
    ]
    blocks += _opening(ours, claims_dir, protocol_diffs)
    blocks.append(("h2", "1. Published numbers beside ours"))
    if ours is None:
        blocks.append(("p", f"`{main_path}` not found: no results to compare; every row is missing."))
    if not settings.model_map:
        blocks.append(("p", "No paper model is mapped to a config model (`audit.model_map` is empty), "
                            "as at mini scale, where the models are tiny stand-ins trained here: "
                            "their accuracies are not comparable with the paper's and are not compared."))
    blocks.append(("p", f"Assumption: the README's `Avg` is the mean of all {N_BENCHMARKS} benchmarks the paper "
                        f"evaluates (its listed tasks + {' + '.join(AVG_EXTRA_TASKS)}), not of the listed tasks "
                        f"alone (dense: 57.93 vs 65.73). Then {N_BENCHMARKS} × Avg − Σ listed is the implied "
                        f"{' + '.join(AVG_EXTRA_TASKS)} sum, shown beside ours, and our `Avg` is our "
                        f"{N_BENCHMARKS}-task mean."))
    blocks.append(("p", "Protocol and metric of each published number (release: `eval_llada.sh`, lm-eval 0.4.8):"))
    blocks.append(("table", (["task", "protocol", "metric"],
                             [[t, p, m] for t, (p, m) in PUBLISHED_PROTOCOL.items()])))
    shown, folded = fold_missing(cmp)
    if folded:
        blocks.append(("ul", folded))
    blocks.append(_table(shown, {"model": "paper model", "table": "table", "method": "method",
                                 "sparsity": "sparsity", "task": "task", "value": "published",
                                 "unit": "unit", "metric": "metric", "our_model": "our model",
                                 "our_task": "our task", "ours": "ours (pp)", "stderr": "± stderr",
                                 "diff": "abs diff (pp)", "implied_extra": "implied GPQA+RACE",
                                 "ours_extra": "ours GPQA+RACE", "verdict": "verdict", "reason": "why"}))
    sources = sorted(set(published["source"]))
    blocks += [("p", "Sources:"), ("ul", sources)]

    blocks.append(("h2", "2. The paper's claims at this scale"))
    blocks.append(("h3", "2.1 DLM sink positions vary more over time than AR sinks (against controls)"))
    blocks += sink_claim_blocks(claims_dir)
    blocks.append(("h3", "2.1b Can the tests see the effects? Planted positive controls"))
    blocks += control_blocks(claims_dir)

    blocks.append(("h3", "2.2 Sink-aware pruning against its baseline"))
    if ours is None:
        blocks.append(("p", "No main table: not checked."))
        return blocks, cmp
    pairs = pruning_pairs(ours)
    if pairs.empty:
        blocks.append(("p", "main.csv has no sink-aware method together with its baseline "
                            f"({', '.join(f'{s} / {b}' for s, b in SINK_PAIRS.items())}): not checked."))
        return blocks, cmp
    summary = pruning_summary(pairs)
    blocks.append(("p", f"Differences are sink-aware minus baseline in percentage points; `se` combines "
                        f"both stderrs as if independent (both methods see the same items, so this is "
                        f"conservative); significant means |diff| ≥ {Z_SIGNIFICANT:g}·se. Task rows "
                        f"where both scores are within {Z_SIGNIFICANT:g} stderr of chance are "
                        f"uninformative and left out of the mean."))
    blocks.append(("ul", pruning_claims(summary)))
    blocks.append(_table(summary, {"model": "model", "sink_method": "sink-aware", "baseline": "baseline",
                                   "sparsity": "sparsity", "tasks": "tasks", "mean_diff": "mean diff (pp)",
                                   "se": "se", "verdict": "verdict"}))
    blocks.append(("p", "Per task:"))
    blocks.append(_table(pairs, {"model": "model", "sink_method": "sink-aware", "sparsity": "sparsity",
                                 "task": "task", "sink_aware": "sink-aware (pp)",
                                 "baseline_value": "baseline (pp)", "diff": "diff", "se": "se",
                                 "chance": "chance", "verdict": "verdict"}))
    return blocks, cmp


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sinkprune audit``; exit 0 once the report is written.

    With ``--fail-on-mismatch`` the exit code is 1 when any compared row fails the tolerance
    (missing rows never fail: they are reported).
    """
    parser = argparse.ArgumentParser(prog="sinkprune audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--published", default="paper/published.csv")
    parser.add_argument("--main", default="results/tables/main.csv")
    parser.add_argument("--claims", default="results/claims")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", default="results/audit.md")
    parser.add_argument("--html", default=None)
    parser.add_argument("--protocol-diff", nargs="*", default=[],
                        help="results/prune/{model}/protocol_diff.csv files (absent files are reported)")
    parser.add_argument("--fail-on-mismatch", action="store_true")
    args = parser.parse_args(argv)

    settings = AuditSettings.from_config(yaml.safe_load(Path(args.config).read_text()) or {})
    published = read_published(args.published)
    ours = pd.read_csv(args.main, dtype={"sparsity": str}) if Path(args.main).is_file() else None
    blocks, cmp = build_report(published, ours, args.claims, settings, args.main, args.protocol_diff)
    atomic_write(args.out, render_markdown(blocks))
    if args.html:
        atomic_write(args.html, render_html(blocks, "sinkprune audit"))
    counts = cmp["verdict"].value_counts().to_dict()
    print(f"audit: {counts} -> {args.out}")
    return 1 if args.fail_on_mismatch and counts.get("fail", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
