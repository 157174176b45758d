"""``sinkprune <stage> ...``: one command line for every stage of the DAG.

Each stage keeps its own argument parser (``main(argv)`` in ``sinkprune/<stage>/__main__.py`` or
``sinkprune/<stage>.py``); this module only picks the stage and hands it the remaining arguments,
so ``sinkprune prune stats --config C ...`` equals ``python -m sinkprune.prune stats --config C ...``.
Stages are imported on demand: ``sinkprune --help`` loads no torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

# Stage name -> one line for ``sinkprune --help``. Every module with a ``main(argv)`` is listed
# (tests/test_cli.py fails when a stage module is missing here).
STAGES: dict[str, str] = {
    "data": "offline corpus, tokenizer, training streams, calibration batch",
    "models": "build, initialise and train the mini stand-in models",
    "sinks": "attention-sink trajectories, statistics with controls, the sink-variance claim",
    "prune": "shared calibration statistics, then every pruning method at every sparsity",
    "evaluate": "lm-eval over a checkpoint; build-tasks writes the offline mini tasks",
    "tables": "evaluation JSONs and prune reports -> main table (CSV + LaTeX)",
    "figures": "sink variance, sink heatmaps, sink layers, accuracy against sparsity",
    "checksums": "sha256 manifest of results/ and its verification",
    "provenance": "package versions, config hash and git commit of a run",
    "audit": "our results beside the published ones, with verdicts on the paper's claims",
    "controls": "planted positive controls: sink models, detection power, planted pruning",
    "plan": "every job's estimated FLOPs, GPU-hours, memory and disk against its resources",
    "download": "fetch every model, tokenizer and dataset the config needs into the HF cache",
    "preflight": "check in seconds that the cache, the GPU and the disk are ready for a run",
}


def stage_module(stage: str) -> str:
    """Import path of the module whose ``main(argv)`` runs ``stage``."""
    name = f"sinkprune.{stage}"
    spec = importlib.util.find_spec(name)
    is_package = spec is not None and spec.submodule_search_locations is not None
    return f"{name}.__main__" if is_package else name


def usage() -> str:
    """Text of ``sinkprune --help``: the stages, one line each."""
    width = max(map(len, STAGES))
    lines = ["usage: sinkprune <stage> [arguments ...]", "",
             "Run one stage of the sinkprune DAG (the rules in rules/<stage>.smk call the same).",
             "`sinkprune <stage> --help` shows a stage's arguments.", "", "stages:"]
    lines += [f"  {name:<{width}}  {line}" for name, line in STAGES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int | None:
    """Dispatch ``argv[0]`` (a stage name) to that stage's ``main`` with the rest of ``argv``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(f"sinkprune: unknown stage {stage!r}; stages: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    return importlib.import_module(stage_module(stage)).main(rest)


if __name__ == "__main__":
    sys.exit(main())
