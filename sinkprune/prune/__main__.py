"""``sinkprune prune {stats,run,diff,all}``: thin command line over :mod:`sinkprune.prune.api`.

stats: ``--model DIR --calib calibration.pt --config CONFIG.yaml --out shared.pt``
run:   ``--model DIR --calib FILE [--shared FILE] --method M --sparsity S [S ...] --config CONFIG.yaml
        --out DIR [DIR ...] --report FILE.json [...] [--timing FILE.json ...]``
diff:  ``--model DIR --name NAME --calib FILE --config CONFIG.yaml --out protocol_diff.csv``
all:   ``--model DIR --name NAME --calib FILE --config CONFIG.yaml --out-dir results/prune/NAME
        [--timing-dir benchmarks/prune/NAME]``: stats, run of every method and sparsity of the
        config, and diff in one process (one model load); the same files as the three steps.
"""

from __future__ import annotations

from sinkprune.prune.api import run_model, run_pruning, run_stats
from sinkprune.prune.names import METHODS, NEEDS_SHARED
from sinkprune.stage_parser import stage_parser


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run one sub-command."""
    parser, steps = stage_parser("prune", __doc__, {
        "stats": "sink scores shared by the sink-aware methods (once per model)",
        "run": "prune one model with one method at one sparsity",
        "diff": "mask entries that differ between protocol released and corrected",
        "all": "stats, every method at every sparsity of the config, and diff, in one process"},
        offline=True, dest="command")
    stats, run, diff, whole = steps["stats"], steps["run"], steps["diff"], steps["all"]
    for p in (stats, run, diff, whole):
        p.add_argument("--model", required=True, help="dense checkpoint directory (or hub id)")
        p.add_argument("--calib", required=True, help="calibration.pt with input_ids [N, S]")
        p.add_argument("--config", required=True, help="config YAML (seed, threads, sinks, prune)")
    stats.add_argument("--out", required=True, help="shared.pt to write")
    run.add_argument("--shared", default=None,
                     help="shared.pt from `stats` (needed by " + ", ".join(NEEDS_SHARED) + ")")
    run.add_argument("--method", required=True, choices=METHODS)
    run.add_argument("--sparsity", required=True, nargs="+",
                     help="one or more of '0.50', '2-4' (or '2:4'), or a channel ratio '0.30'")
    run.add_argument("--out", required=True, nargs="+", help="pruned checkpoint directory per sparsity")
    run.add_argument("--report", required=True, nargs="+", help="JSON report per sparsity")
    run.add_argument("--timing", nargs="*", default=None,
                     help="JSON with measured wall time and peak memory per sparsity (outside results/)")
    diff.add_argument("--name", required=True, help="model name of the config (first CSV column)")
    diff.add_argument("--out", required=True, help="CSV to write")
    whole.add_argument("--name", required=True, help="model name of the config (protocol_diff.csv)")
    whole.add_argument("--out-dir", required=True,
                       help="results/prune/NAME: shared.pt, METHOD/SPARSITY/{model,report.json}, protocol_diff.csv")
    whole.add_argument("--timing-dir", default=None,
                       help="directory of METHOD/SPARSITY.json timings (outside results/)")
    args = parser.parse_args(argv)
    if args.command == "run" and args.method in NEEDS_SHARED and args.shared is None:
        parser.error(f"--method {args.method} needs --shared (shared.pt from `stats`)")
    if args.command == "diff":
        from sinkprune.prune.protocol_diff import run_protocol_diff

        run_protocol_diff(args.model, args.name, args.calib, args.config, args.out)
    elif args.command == "all":
        run_model(args.model, args.name, args.calib, args.config, args.out_dir, args.timing_dir)
    elif args.command == "stats":
        run_stats(args.model, args.calib, args.config, args.out)
    else:
        run_pruning(args.model, args.calib, args.shared, args.method, args.sparsity, args.config,
                    args.out, args.report, args.timing)


if __name__ == "__main__":
    main()
