"""Planted and untrained sink pairs through the real trajectory code, and the test's power.

One *repetition* r draws its own token rows, its own untrained controls (``sinks.untrained_seeds``
initialisations per architecture, ``ControlSettings.control_seed``) and its own planted
background (seed ``planted``, ``ControlSettings.rep_seeds``). Repetition 0's
pair at the configured strength is the planted pair of the claim JSON; the same background at
strength 0 (an untrained model of another seed) is the untrained pair.

Power: for each strength and repetition, the planted pair is tested against its control with
:func:`sinkprune.sinks.claim.compare` (primary statistic, the DLM's noised trajectory, the
config's bootstrap and sample size). The power at a strength is the share of repetitions whose
verdict is "holds"; its effect size is the mean excess over the untrained gap, the unit of the
real stand-ins' result.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pandas as pd

from sinkprune.controls.data import control_rows
from sinkprune.controls.planted import build_background, plant
from sinkprune.controls.settings import ControlSettings
from sinkprune.sinks.claim import (
    CONTROL_SIDES,
    PRIMARY,
    PRIMARY_DLM_TRAJECTORY,
    compare,
    control_analysis,
)
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.stats import nan_mean
from sinkprune.sinks.store import Trajectory, control_group
from sinkprune.sinks.trajectory import build_trajectory

POWER_TARGET = 0.8


def pair_trajectories(controls: ControlSettings, analysis: SinkSettings, rep: int,
                      strength: float) -> dict[str, Trajectory]:
    """``{"dlm": noised, "ar": ar_prefix}`` of the repetition's planted pair at ``strength``."""
    seeds = controls.rep_seeds(rep)
    ids = control_rows(analysis.analysis_samples, controls.seq_len, controls.vocab_size, seeds["data"])
    out = {}
    for side, arch in (("dlm", controls.dlm()), ("ar", controls.ar())):
        model = plant(build_background(arch, seeds["planted"]), strength)
        out[side] = build_trajectory(model, ids, CONTROL_SIDES[side], _rep_settings(analysis, seeds))
    return out


def control_trajectories(controls: ControlSettings, analysis: SinkSettings,
                         rep: int) -> dict[tuple[str, str], Trajectory]:
    """The repetition's untrained controls ``{(group, side): trajectory}``: each architecture's
    random init at ``sinks.untrained_seeds`` seeds (groups ``control``, ``control-s1`` …)."""
    seeds = controls.rep_seeds(rep)
    ids = control_rows(analysis.analysis_samples, controls.seq_len, controls.vocab_size, seeds["data"])
    return {(control_group(i), side): build_trajectory(build_background(arch, controls.control_seed(rep, i)), ids,
                                                       CONTROL_SIDES[side], _rep_settings(analysis, seeds))
            for i in range(analysis.untrained_seeds)
            for side, arch in (("dlm", controls.dlm()), ("ar", controls.ar()))}


def _rep_settings(analysis: SinkSettings, seeds: dict[str, int]) -> SinkSettings:
    # The masking noise (and the bootstrap) is drawn per repetition too.
    return dataclasses.replace(analysis, seed=analysis.seed + seeds["data"])


def judge_pair(pair: dict[str, Trajectory], control: dict[tuple[str, str], Trajectory],
              analysis: SinkSettings) -> dict[str, Any]:
    """The primary comparison of ``pair`` against its untrained ``control`` (the claim's own code)."""
    trajectories = control | {("test", s): t for s, t in pair.items()}
    result = compare(control_analysis(trajectories, analysis), "test-dlm", "test-ar", PRIMARY_DLM_TRAJECTORY,
                     PRIMARY, 1, analysis)
    if result is None:
        raise RuntimeError("control comparison is missing a trajectory")
    return result


def _top1(traj: Trajectory) -> float:
    from sinkprune.sinks.stats import top_share

    return float(nan_mean(top_share(traj.mass.sum(axis=(2, 3)).astype(np.float64), traj.lengths, 1)))


def power_table(controls: ControlSettings, analysis: SinkSettings) -> pd.DataFrame:
    """One row per strength × repetition: excess [CI], verdict, group means, top-1 mass share."""
    rows = []
    for rep in range(controls.power_reps):
        control = control_trajectories(controls, analysis, rep)
        for strength in controls.power_strengths:
            pair = pair_trajectories(controls, analysis, rep, strength)
            r = judge_pair(pair, control, analysis)
            e = r["excess_over_untrained_gap"]
            rows.append({"strength": strength, "rep": rep, "excess": e["value"], "ci_low": e["ci"][0],
                         "ci_high": e["ci"][1], "holds": bool(r["holds"]), "outcome": r["outcome"].split(":")[0],
                         "dlm_planted": r["groups"]["dlm_trained"]["value"],
                         "ar_planted": r["groups"]["ar_trained"]["value"],
                         "dlm_control": r["groups"]["dlm_untrained"]["value"],
                         "ar_control": r["groups"]["ar_untrained"]["value"],
                         "dlm_top1_share": _top1(pair["dlm"]), "ar_top1_share": _top1(pair["ar"])})
    return pd.DataFrame(rows)


def smallest_detectable(effects: list[float], power: list[float], target: float = POWER_TARGET) -> float | None:
    """Effect at which power first reaches ``target``, linear between the grid's points (sorted by
    effect); None when no grid point reaches it."""
    points = sorted(zip(effects, power))
    for (e0, p0), (e1, p1) in itertools.pairwise(points):
        if p0 < target <= p1:
            return float(e0 + (target - p0) * (e1 - e0) / (p1 - p0))
    if points and points[0][1] >= target:
        return float(points[0][0])
    return None


def power_summary(table: pd.DataFrame, controls: ControlSettings, analysis: SinkSettings) -> dict[str, Any]:
    """Power and mean effect per strength, and the smallest effect detected with 80 % power."""
    grid = []
    for strength, g in table.groupby("strength", sort=True):
        grid.append({"strength": float(strength), "power": float(g["holds"].mean()),
                     "mean_excess": float(g["excess"].mean()), "sd_excess": float(g["excess"].std(ddof=1)),
                     "mean_dlm_top1_share": float(g["dlm_top1_share"].mean()), "reps": len(g)})
    mde = smallest_detectable([g["mean_excess"] for g in grid], [g["power"] for g in grid])
    return {"statistic": PRIMARY, "unit": "excess over the untrained gap (dominant_var, normalised by S^2)",
            "n_sequences": analysis.analysis_samples, "bootstrap": analysis.bootstrap,
            "repetitions": controls.power_reps, "power_target": POWER_TARGET,
            "smallest_detectable_excess": mde,
            "false_positive_rate": next((g["power"] for g in grid if g["strength"] == 0.0), None),
            "grid": grid}
