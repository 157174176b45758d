"""Command line of the sinks stage (rules/sinks.smk).

    sinkprune sinks trajectory --model DIR --calib results/data/calibration.pt \
        --config C.yaml --kind noised|generate|ar_prefix --out results/sinks/{model}/{state}/{kind}.npz
        [--kind noised generate --out NOISED.npz GENERATE.npz]   (several kinds, one model load)
        [--model DIR2 ...]   (several models, one process: --out lists every kind of each model in turn)
    sinkprune sinks summarize --config C.yaml --inputs results/sinks/*/*/*.npz \
        --table results/tables/sinks.csv --tex paper/tables/sinks.tex --claim results/claims/sink_variance.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sinkprune.config import load_config, set_threads


def trajectory_command(args: argparse.Namespace) -> None:
    """For each ``--model``: load it once, run each ``--kind`` in turn, write its ``--out`` .npz
    (outputs model by model, kinds in ``--kind`` order).

    Several models and kinds share one process (the imports cost more than a tiny model's
    trajectory); each trajectory draws from its own seeded generator, so the files equal those
    of one process per model and kind.
    """
    import torch

    from sinkprune.device import placement
    from sinkprune.models import load_model
    from sinkprune.sinks.settings import SinkSettings
    from sinkprune.sinks.store import save_trajectory
    from sinkprune.sinks.trajectory import build_trajectory

    config = load_config(args.config)
    set_threads(config)
    settings = SinkSettings.from_config(config)
    device, dtype = placement(config)
    ids = torch.load(args.calib)["input_ids"]
    outs = iter(args.out)
    for path in args.model:
        model = load_model(path, device=device, dtype=dtype)
        for kind, out in zip(args.kind, outs):
            start = time.perf_counter()
            traj = build_trajectory(model, ids, kind, settings)
            seconds = time.perf_counter() - start
            save_trajectory(traj, out)
            print(f"{path} {kind}: mass {tuple(traj.mass.shape)} [T, N, L, H, S], "
                  f"lengths {traj.lengths.tolist()}, {seconds:.1f} s → {out}")


def summarize_command(args: argparse.Namespace) -> None:
    """Statistics with controls for every input trajectory → CSV, LaTeX, claim JSON."""
    from sinkprune.sinks.claim import claim_report
    from sinkprune.sinks.settings import SinkSettings
    from sinkprune.sinks.summary import analyse_files, sinks_latex, sinks_table

    config = load_config(args.config)
    set_threads(config)
    settings = SinkSettings.from_config(config)
    models = config["models"]
    analysis = analyse_files(args.inputs, settings)
    table = sinks_table(analysis, models, settings)
    for path in (args.table, args.tex, args.claim):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.table, index=False, float_format="%.6g")
    Path(args.tex).write_text(sinks_latex(table))
    report = claim_report(analysis, models, settings)
    if args.controls:
        report["controls"] = _control_section(args.controls, config, settings)
    Path(args.claim).write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    print(f"sinks table: {len(table)} rows → {args.table}")
    for dlm, results in report["summary"].items():
        for r in results:
            e = r["excess_over_untrained_gap"]
            print(f"claim {dlm} vs {r['ar_model']}: {r['outcome']} (excess {e['value']}, CI {e['ci']})")


def _control_section(paths: list[str], config: dict, settings) -> dict:
    """Planted / untrained control pairs from ``results/controls/sinks/{group}/{dlm|ar}.npz``."""
    from sinkprune.sinks.claim import control_report
    from sinkprune.sinks.store import load_trajectory

    trajectories = {(Path(p).parent.name, Path(p).stem): load_trajectory(p) for p in paths}
    strength = (config.get("controls") or {}).get("sinks", {}).get("strength")
    return control_report(trajectories, settings, strength)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run one sinks step."""
    from sinkprune.hub import use_offline_cache

    use_offline_cache()  # compute jobs read the cache `snakemake download` filled
    parser = argparse.ArgumentParser(prog="sinkprune sinks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("trajectory", help="received mass along trajectories of one model")
    p.add_argument("--model", required=True, action="append",
                   help="checkpoint directory (or hub id); repeatable (same calibration batch)")
    p.add_argument("--calib", required=True, help="calibration.pt with input_ids [N, S]")
    p.add_argument("--config", required=True)
    p.add_argument("--kind", required=True, nargs="+", choices=["noised", "generate", "ar_prefix"],
                   help="one or more trajectory kinds")
    p.add_argument("--out", required=True, nargs="+", help=".npz per --kind")
    p = sub.add_parser("summarize", help="statistics, controls, table and claim")
    p.add_argument("--config", required=True)
    p.add_argument("--inputs", nargs="+", required=True,
                   help="results/sinks/{model}/{state}/{kind}.npz files (model/state/kind read from the path)")
    p.add_argument("--table", required=True)
    p.add_argument("--tex", required=True)
    p.add_argument("--claim", required=True)
    p.add_argument("--controls", nargs="*", default=[],
                   help="results/controls/sinks/{control,planted,untrained}/{dlm,ar}.npz (planted controls)")
    args = parser.parse_args(argv)
    if args.step == "trajectory" and len(args.kind) * len(args.model) != len(args.out):
        parser.error(f"give one --out per --model and --kind ({len(args.model)} models × {len(args.kind)} kinds, "
                     f"{len(args.out)} outputs)")
    if args.step == "trajectory":
        trajectory_command(args)
    else:
        summarize_command(args)


if __name__ == "__main__":
    main()
