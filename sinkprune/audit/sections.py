"""Report sections read from the other stages' files: the sink-variance claim (sinks stage), the
planted positive controls (controls stage; docs/controls.md) and the share of mask entries that
differ between the released and corrected protocols (prune stage). An absent file is reported,
never an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from sinkprune.audit.render import Block, fmt_cell, fmt_estimate

# File names of the controls stage's results (rules/controls.smk), as passed in ``--controls``.
SINK_POWER = "sink_power.json"
PLANTED_PRUNING = "pruning.json"


def sink_claim_blocks(claim_path: str | Path) -> list[Block]:
    """Report blocks for the claim file results/claims/sink_variance.json (sinkprune.sinks.claim).

    Reads the sinks stage's schema: ``claim`` and ``test`` (text), ``summary`` (DLM model -> list
    of primary comparisons against each AR model, each with ``holds``, ``outcome`` and estimates
    ``{"value", "ci"}``), ``missing`` (DLMs without a comparison) and ``comparisons`` (every
    statistic and trajectory).  The verdict is the sinks stage's own; the audit only counts and
    shows it.  A missing file is reported, not an error; an unknown layout is listed leaf by leaf.
    """
    path = Path(claim_path)
    if not path.is_file():
        return [("p", f"`{path.as_posix()}` not found: the sink-variance claim was not checked in this "
                      "run (it is written by the sinks stage: `snakemake results/claims/sink_variance.json`).")]
    data = json.loads(path.read_text())
    blocks: list[Block] = []
    if data.get("claim"):
        blocks.append(("p", f"Claim: {data['claim']}"))
    if data.get("test"):
        blocks.append(("p", f"Test: {data['test']}"))
    if isinstance(data.get("summary"), dict):
        return blocks + _summary_blocks(data)
    # Unknown layout: show a top-level verdict if there is one, and every recorded value.
    holds = data.get("holds")
    blocks.append(("p", f"Verdict: **{'holds' if holds else 'does not hold'}** at this scale."
                        if isinstance(holds, bool) else
                        "Verdict: the sinks stage recorded no verdict this audit can read."))
    leaves = list(_flatten({k: v for k, v in data.items() if k not in ("claim", "test", "holds")}))
    if leaves:
        blocks.append(("table", (["recorded value", ""], [[k, v] for k, v in leaves])))
    return blocks


def _summary_blocks(data: dict[str, Any]) -> list[Block]:
    """The verdict over the primary DLM-vs-AR comparisons, their table, and every comparison."""
    summary = data["summary"]
    rows = [(dlm, r) for dlm in sorted(summary) for r in summary[dlm] if isinstance(r, dict)]
    held = sum(r.get("holds") is True for _, r in rows)
    verdict = ("holds" if rows and held == len(rows) else
               "not shown" if held == 0 else "holds only in part")
    estimates = ("excess_over_untrained_gap", "dlm_trained", "ar_trained", "dlm_untrained", "ar_untrained")
    blocks: list[Block] = [
        ("p", f"Verdict against the untrained control: **{verdict}** at this scale "
              f"({held} of {len(rows)} primary DLM-vs-AR comparisons hold)."),
        ("table", (["DLM", "AR", "holds", "outcome", "excess over untrained gap [CI]",
                    "DLM trained", "AR trained", "DLM untrained", "AR untrained"],
                   [[dlm] + [fmt_cell(r.get(k)) for k in ("ar_model", "holds", "outcome")]
                    + [fmt_estimate(r.get(k)) for k in estimates] for dlm, r in rows]))]
    if data.get("missing"):
        blocks.append(("p", "No comparison possible for: " + ", ".join(map(str, data["missing"]))
                            + " (a trajectory or an AR model is missing)."))
    comparisons = [c for c in data.get("comparisons", []) if isinstance(c, dict)]
    if comparisons:
        # The random-position control sits beside each trained group: a statistic no larger
        # than its random value says nothing about learned sinks.
        groups = ("dlm_trained", "dlm_random", "ar_trained", "ar_random")
        blocks.append(("p", "Every comparison (all statistics and DLM trajectories):"))
        blocks.append(("table", (["DLM", "AR", "trajectory", "statistic", "expected", "excess [CI]",
                                  "DLM trained", "DLM random", "AR trained", "AR random", "outcome"],
                                 [[fmt_cell(c.get(k)) for k in ("dlm_model", "ar_model", "dlm_trajectory",
                                                                "statistic", "expected")]
                                  + [fmt_estimate(c.get("excess_over_untrained_gap"))]
                                  + [fmt_estimate((c.get("groups") or {}).get(g)) for g in groups]
                                  + [fmt_cell(c.get("outcome"))] for c in comparisons])))
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
        yield prefix, fmt_cell(obj)


def control_blocks(claim_path: str | Path, control_files: Iterable[str | Path]) -> list[Block]:
    """Can the tests see the effects? The planted and untrained sink pairs (the claim file's
    ``controls`` section), the sink test's detection power beside each stand-in's excess
    (``sink_power.json``) and the planted pruning control (``pruning.json``), both among
    ``control_files`` (the controls stage's results). Absent files are reported."""
    claim_path = Path(claim_path)
    claim = json.loads(claim_path.read_text()) if claim_path.is_file() else {}
    by_name = {Path(f).name: Path(f) for f in control_files}
    blocks = planted_pair_blocks(claim, claim_path)
    power_path = by_name.get(SINK_POWER)
    if power_path is not None and power_path.is_file():
        blocks += power_blocks(json.loads(power_path.read_text()), claim)
    else:
        blocks.append(("p", f"{_absent(power_path, SINK_POWER)}: detection power not measured."))
    pruning_path = by_name.get(PLANTED_PRUNING)
    if pruning_path is not None and pruning_path.is_file():
        blocks += planted_pruning_blocks(json.loads(pruning_path.read_text()))
    else:
        blocks.append(("p", f"{_absent(pruning_path, PLANTED_PRUNING)}: the planted pruning control was not run."))
    return blocks


def _absent(path: Path | None, name: str) -> str:
    """Why a control result is not shown: the file given does not exist, or none was given."""
    if path is None:
        return f"No `{name}` given (the controls stage runs with a config that has `controls:`)"
    return f"`{path.as_posix()}` not found"


def planted_pair_blocks(claim: dict[str, Any], claim_path: Path) -> list[Block]:
    """The planted and untrained sink pairs, each tested against its own architecture's control."""
    section = claim.get("controls") or {}
    if not section.get("pairs"):
        return [("p", f"No planted controls in `{claim_path.as_posix()}` (config without `controls:`).")]
    rows = []
    for group, comparisons in section["pairs"].items():
        for c in comparisons:
            groups = c["groups"]
            rows.append([group, fmt_cell(c.get("statistic")), fmt_estimate(c.get("excess_over_untrained_gap")),
                         fmt_estimate(groups.get("dlm_trained")), fmt_estimate(groups.get("ar_trained")),
                         fmt_estimate(groups.get("dlm_untrained")), fmt_estimate(groups.get("ar_untrained")),
                         fmt_cell(c.get("outcome"))])
    return [("p", "Sink claim, positive and negative control (same test, primary statistic, "
                  f"planted strength {section.get('planted_strength')}); each pair is tested against "
                  "the untrained control of its own architecture:"),
            ("table", (["pair", "statistic", "excess [CI]", "DLM", "AR", "DLM control", "AR control", "outcome"],
                       rows))]


def power_blocks(power: dict[str, Any], claim: dict[str, Any]) -> list[Block]:
    """Detection power of the sink test (controls stage) beside each trained stand-in's excess."""
    mde = power.get("smallest_detectable_excess")
    excesses = {dlm: r[0]["excess_over_untrained_gap"] for dlm, r in (claim.get("summary") or {}).items() if r}
    measured = "; ".join(f"{d} {fmt_estimate(e)}" for d, e in sorted(excesses.items())) or "none"
    return [("p", f"Detection power at N = {power['n_sequences']} sequences "
                  f"({power['repetitions']} planted repetitions per strength): the smallest excess the "
                  f"test calls 'holds' with {power['power_target']:.0%} power is "
                  f"**{'not reached on the grid' if mde is None else f'{mde:.4g}'}**; false-positive "
                  f"rate at strength 0: {fmt_cell(power.get('false_positive_rate'))}. Measured excess of "
                  f"each trained stand-in, same unit: {measured}."),
            ("table", (["strength", "power", "mean excess", "sd", "DLM top-1 mass share"],
                       [[f"{g['strength']:g}", fmt_cell(g["power"]), f"{g['mean_excess']:.4g}",
                         f"{g['sd_excess']:.3g}", f"{g['mean_dlm_top1_share']:.3g}"] for g in power["grid"]]))]


def planted_pruning_blocks(pruning: dict[str, Any]) -> list[Block]:
    """Sink-aware minus baseline output error on models whose sink is planted (controls stage)."""
    return [("p", "Pruning claim, planted: sink-aware minus baseline in non-sink output error "
                  f"({pruning['metric']}); {pruning['level']:.0%} {pruning['interval']}. `planted`: "
                  f"the sink dominates {pruning['channels']} input channels that only it uses; "
                  "`no_sink`: the same models without it. Compare with 2.2 below (real stand-ins)."),
            ("table", (["setting", "sink-aware", "baseline", "sparsity", "baseline err %",
                        "sink-aware err %", "gain (pp) [CI]", "reps", "verdict"],
                       [[g["setting"], g["sink_method"], g["baseline"], g["sparsity"],
                         fmt_cell(g["baseline_error_pct"]), fmt_cell(g["sink_error_pct"]),
                         fmt_estimate({"value": g["gain_pp"], "ci": g["ci"]}), str(g["reps"]), g["verdict"]]
                        for g in pruning["gains"]]))]


PROTOCOL_DIFF_COLUMNS = ("model", "method", "sparsity", "share_differing")


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
