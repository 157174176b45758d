"""Trajectory files → per-sequence statistics with controls → tidy table (CSV) and LaTeX.

States in the table: ``trained`` and ``untrained`` (the same architecture at initialisation,
its own trajectory file) and ``random`` (the random-position control of ``baseline.py``,
computed from the trained model's mass). CIs: paired bootstrap over sequences (``bootstrap.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sinkprune.sinks.baseline import baseline_rng, baseline_statistics
from sinkprune.sinks.bootstrap import bootstrap_indices, mean_ci
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.stats import STATISTICS, scope_names, sequence_statistics
from sinkprune.sinks.store import Trajectory, load_trajectory, parse_trajectory_path, untrained_index

COLUMNS = ["model", "kind", "standin_for", "state", "trajectory", "scope", "statistic", "value", "ci_low",
           "ci_high", "n_sequences", "n_defined", "n_timesteps", "seq_len"]
STATES = ("trained", "untrained", "random")  # further untrained seeds (untrained-sN) sort after "untrained"
# Layer-summed statistics shown in the LaTeX table (the CSV has every statistic and layer).
TEX_STATISTICS = ("dominant_var", "centroid_var", "top1_share", "spatial_var", "strong_head_share")

# (model, state, trajectory, scope, statistic) → per-sequence values [N]
Key = tuple[str, str, str, str, str]


@dataclass
class SinkAnalysis:
    """Per-sequence values of every statistic, plus what the table needs to describe them."""

    values: dict[Key, np.ndarray] = field(default_factory=dict)
    shape: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)  # (T, S)

    def get(self, model: str, state: str, trajectory: str, statistic: str, scope: str = "all") -> np.ndarray | None:
        """Per-sequence values or None when that trajectory was not analysed."""
        return self.values.get((model, state, trajectory, scope, statistic))

    def untrained_seeds(self, model: str, trajectory: str, statistic: str) -> list[int]:
        """Seed indices of the untrained controls analysed for a model's trajectory, ascending."""
        found = {untrained_index(state) for (m, state, traj, scope, name) in self.values
                 if m == model and traj == trajectory and scope == "all" and name == statistic}
        return sorted(i for i in found if i is not None)


def analyse_trajectory(traj: Trajectory, settings: SinkSettings) -> dict[tuple[str, str], np.ndarray]:
    """(scope, statistic) → per-sequence values of one trajectory, every scope."""
    out = {}
    for scope in scope_names(traj.mass.shape[2]):
        for name, values in sequence_statistics(traj.mass, traj.kinds, traj.lengths, settings, scope).items():
            out[(scope, name)] = values
    return out


def analyse_baseline(traj: Trajectory, settings: SinkSettings, model: str,
                     trajectory: str) -> dict[tuple[str, str], np.ndarray]:
    """(scope, statistic) → per-sequence random-position values (seeded per model/trajectory/scope)."""
    out = {}
    for scope in scope_names(traj.mass.shape[2]):
        rng = baseline_rng(settings.seed, model, trajectory, scope)
        for name, values in baseline_statistics(traj.mass, traj.kinds, traj.lengths, settings, scope, rng).items():
            out[(scope, name)] = values
    return out


def analyse_files(paths: Iterable[str | Path], settings: SinkSettings) -> SinkAnalysis:
    """Load every ``results/sinks/{model}/{state}/{kind}.npz`` and compute statistics and controls."""
    analysis = SinkAnalysis()
    for path in sorted(Path(p) for p in paths):
        model, state, trajectory = parse_trajectory_path(path)
        traj = load_trajectory(path)
        analysis.shape[(model, state, trajectory)] = (traj.num_timesteps, traj.seq_len)
        for (scope, name), values in analyse_trajectory(traj, settings).items():
            analysis.values[(model, state, trajectory, scope, name)] = values
        if state == "trained":
            analysis.shape[(model, "random", trajectory)] = (traj.num_timesteps, traj.seq_len)
            for (scope, name), values in analyse_baseline(traj, settings, model, trajectory).items():
                analysis.values[(model, "random", trajectory, scope, name)] = values
    return analysis


def sinks_table(analysis: SinkAnalysis, models: dict, settings: SinkSettings) -> pd.DataFrame:
    """Tidy table: one row per model × state × trajectory × scope × statistic with its 95 % CI."""
    rows = []
    indices: dict[int, np.ndarray] = {}
    for (model, state, trajectory, scope, name), values in analysis.values.items():
        n = len(values)
        if n not in indices:
            indices[n] = bootstrap_indices(n, settings.bootstrap, settings.seed)
        mean, low, high = mean_ci(values, indices[n])
        spec = models.get(model, {})
        steps, seq_len = analysis.shape[(model, state, trajectory)]
        rows.append({"model": model, "kind": spec.get("kind", ""), "standin_for": spec.get("standin_for", model),
                     "state": state, "trajectory": trajectory, "scope": scope, "statistic": name,
                     "value": mean, "ci_low": low, "ci_high": high, "n_sequences": n,
                     "n_defined": int(np.isfinite(values).sum()), "n_timesteps": steps, "seq_len": seq_len})
    df = pd.DataFrame(rows, columns=COLUMNS)
    order = {"scope": {s: i for i, s in enumerate(sorted(set(df["scope"]), key=_scope_rank))},
             "state": {s: _state_rank(s) for s in set(df["state"])},
             "statistic": {s: i for i, s in enumerate(STATISTICS)}}
    return df.sort_values(["model", "trajectory", "state", "scope", "statistic"],
                          key=lambda c: c.map(order[c.name]) if c.name in order else c,
                          kind="stable").reset_index(drop=True)


def _state_rank(state: str) -> float:
    # trained, untrained, untrained-s1 … untrained-sK, random
    index = untrained_index(state)
    return STATES.index(state) if index is None else 1 + index / (index + 1)


def _scope_rank(scope: str) -> int:
    return -1 if scope == "all" else int(scope.removeprefix("layer"))


def _fmt(value: float) -> str:
    # Variances span orders of magnitude (1e-4 … 1e-1): three significant digits, not fixed decimals.
    return "--" if value is None or math.isnan(value) else f"{value:.3g}"


def _tex(text: str) -> str:
    return str(text).replace("_", r"\_").replace("%", r"\%")


def sinks_latex(df: pd.DataFrame) -> str:
    """Layer-summed statistics: rows model × trajectory × state, cells 'value [CI low, CI high]'."""
    # Further untrained seeds are in the CSV; the LaTeX table keeps one row per state.
    sub = df[(df["scope"] == "all") & df["statistic"].isin(TEX_STATISTICS) & df["state"].isin(STATES)]
    header = " & ".join(["Model", "Kind", "Trajectory", "State"] + [_tex(s) for s in TEX_STATISTICS])
    lines = [f"\\begin{{tabular}}{{llll{'r' * len(TEX_STATISTICS)}}}", "\\toprule", header + r" \\", "\\midrule"]
    previous = None
    for (model, trajectory, state), group in sub.groupby(["model", "trajectory", "state"], sort=False):
        if previous is not None and previous != (model, trajectory):
            lines.append("\\midrule")
        previous = (model, trajectory)
        by_stat = group.set_index("statistic")
        cells = []
        for stat in TEX_STATISTICS:
            if stat not in by_stat.index:
                cells.append("--")
                continue
            r = by_stat.loc[stat]
            ci = "" if math.isnan(r["ci_low"]) else f" [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
            cells.append(_fmt(r["value"]) + ci)
        kind = group["kind"].iloc[0]
        lines.append(" & ".join([_tex(model), _tex(kind), _tex(trajectory), state] + cells) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)

