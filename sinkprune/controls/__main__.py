"""Command line of the controls stage (rules/controls.smk; design: docs/controls.md).

    sinkprune controls sink-pairs --config C.yaml --outdir results/controls/sinks
    sinkprune controls power --config C.yaml --table results/controls/sink_power.csv \
        --summary results/controls/sink_power.json
    sinkprune controls pruning --config C.yaml --table results/controls/pruning.csv \
        --summary results/controls/pruning.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sinkprune.config import load_config, set_threads


def _settings(path: str):
    from sinkprune.controls.settings import ControlSettings
    from sinkprune.sinks.settings import SinkSettings

    config = load_config(path)
    set_threads(config)
    return config, ControlSettings.from_config(config), SinkSettings.from_config(config)


def _write_json(path: str, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


def sink_pairs_command(args: argparse.Namespace) -> None:
    """Repetition 0's controls, planted and untrained pairs → {outdir}/{group}/{dlm,ar}.npz."""
    from sinkprune.controls.sinks import control_trajectories, pair_trajectories
    from sinkprune.sinks.store import save_trajectory

    _, controls, analysis = _settings(args.config)
    trajectories = control_trajectories(controls, analysis, 0)
    for group, strength in (("planted", controls.strength), ("untrained", 0.0)):
        trajectories |= {(group, side): t for side, t in pair_trajectories(controls, analysis, 0, strength).items()}
    for (group, side), traj in trajectories.items():
        save_trajectory(traj, Path(args.outdir) / group / f"{side}.npz")
    print(f"{analysis.untrained_seeds} untrained control(s), planted (strength {controls.strength}) and "
          f"untrained pairs → {args.outdir}")


def power_command(args: argparse.Namespace) -> None:
    """Strength × repetition grid → per-run CSV and the power summary JSON."""
    from sinkprune.controls.sinks import power_summary, power_table

    _, controls, analysis = _settings(args.config)
    start = time.perf_counter()
    table = power_table(controls, analysis)
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.table, index=False, float_format="%.6g")
    summary = power_summary(table, controls, analysis)
    _write_json(args.summary, summary)
    for g in summary["grid"]:
        print(f"strength {g['strength']}: power {g['power']:.2f}, mean excess {g['mean_excess']:.4f}")
    print(f"smallest excess detected with {summary['power_target']:.0%} power: "
          f"{summary['smallest_detectable_excess']} ({time.perf_counter() - start:.1f} s)")


def pruning_command(args: argparse.Namespace) -> None:
    """Planted and no-sink pruning settings → per-run CSV and the gain summary JSON."""
    from sinkprune.controls.pruning import error_table, gain_summary
    from sinkprune.prune.settings import PruneSettings

    config, controls, _ = _settings(args.config)
    prune = PruneSettings.from_config(config)
    start = time.perf_counter()
    table = error_table(controls, prune)
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.table, index=False, float_format="%.6g")
    gains = gain_summary(table)
    _write_json(args.summary, {"metric": "relative error (%) of the blocks' output at non-sink positions "
                                         "against the dense model; gain = baseline − sink-aware",
                               "level": 0.95, "interval": "Student t over repetitions",
                               "channels": controls.channels, "gain": controls.gain, "gains": gains})
    for g in gains:
        print(f"{g['setting']} {g['sink_method']} {g['sparsity']}: gain {g['gain_pp']:+.2f} pp "
              f"[{g['ci'][0]:.2f}, {g['ci'][1]:.2f}] {g['verdict']}")
    print(f"{time.perf_counter() - start:.1f} s")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run one controls step."""
    parser = argparse.ArgumentParser(prog="sinkprune controls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("sink-pairs", help="trajectories of the planted and untrained pairs and their control")
    p.add_argument("--config", required=True)
    p.add_argument("--outdir", required=True)
    for name, text in (("power", "detection power of the sink claim"), ("pruning", "planted pruning control")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", required=True)
        p.add_argument("--table", required=True)
        p.add_argument("--summary", required=True)
    args = parser.parse_args(argv)
    {"sink-pairs": sink_pairs_command, "power": power_command, "pruning": pruning_command}[args.step](args)


if __name__ == "__main__":
    main()
