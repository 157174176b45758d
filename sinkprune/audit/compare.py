"""Part 1 of the audit: every published row beside our number for the same model, method,
sparsity and task.

Paper names map to ours through the config (``audit.model_map``: paper model -> config model
key; ``audit.task_map``: paper task -> our task).  A row with no counterpart is listed with the
reason, never dropped: at mini scale no paper model is run, so those rows fold into one line per
published table (:func:`fold_missing`).  Differences are in percentage points (fractions are
scaled by 100) and pass when within ``audit.tolerance``.  Each published number's protocol and
metric (``PUBLISHED_PROTOCOL``) is stated beside it.

The README's ``Avg`` is not the mean of the six tasks its table lists (dense 57.93 vs 65.73); it
is consistent with the mean of all eight benchmarks the paper evaluates (the six + GPQA + RACE).
The audit states this as an assumption, shows ``8 × Avg − Σ six`` (the implied GPQA + RACE
sum) beside our own GPQA + RACE sum, and compares ``Avg`` with our eight-task mean.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from sinkprune.audit.settings import AuditSettings

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
MISSING = "missing at this scale"  # verdict of a row with no counterpart here


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


def our_rows(ours: pd.DataFrame, model: str, method: str, sparsity: str) -> pd.DataFrame:
    """Rows of main.csv for one model, method and sparsity (sparsity compared as a number)."""
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
        out.update(verdict=MISSING,
                   reason=f"{prefix}no config model mapped to {pub['model']} (audit.model_map)")
        return out
    out["our_model"] = our_model
    if ours is None or our_model not in set(ours["model"]):
        out.update(verdict=MISSING, reason=f"{prefix}{our_model} has no rows in main.csv")
        return out
    rows = our_rows(ours, our_model, pub["method"], pub["sparsity"])
    if rows.empty:
        out.update(verdict=MISSING,
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
            out.update(verdict=MISSING,
                       reason=f"{prefix}Avg needs every task; missing {', '.join(absent)}")
            return out
        vals = rows.set_index("task").loc[mapped]
        out.update(our_task="mean of " + ", ".join(mapped), ours=float(vals["value"].mean()),
                   stderr=float(math.sqrt((vals["stderr"] ** 2).sum()) / len(vals)))
    else:
        our_task = settings.task_map.get(pub["task"])
        if not our_task:
            out.update(verdict=MISSING, reason=f"task {pub['task']} not in audit.task_map")
            return out
        out["our_task"] = our_task
        hit = rows[rows["task"] == our_task]
        if hit.empty:
            out.update(verdict=MISSING, reason=f"{our_task} not evaluated")
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
