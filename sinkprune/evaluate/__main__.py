"""Command line of the evaluate stage (rules/eval.smk; runnable by hand).

    sinkprune evaluate --model DIR --tasks-dir results/data/tasks \
        --tasks mini_mmlu,mini_piqa --config C.yaml --out results/eval/{model}/{method}/{sparsity}.json
        [--model DIR2 --out OUT2 ...]   (several models in one process: imports paid once)
    sinkprune evaluate build-tasks --config C.yaml --out-dir results/data/tasks

Config keys read: ``seed``, ``threads``, ``eval.tasks`` (default of --tasks), ``eval.mc_num``,
``eval.batch_size``, ``eval.limit`` (null = all items), and optionally ``eval.n_items``,
``eval.num_fewshot`` ({task: shots} overrides), ``eval.gen_length``, ``eval.steps``,
``eval.block_length``. Runs offline (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE are set). A task
lm-eval does not know, or a missing dataset file, fails before any model is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULTS = {"mc_num": 8, "batch_size": 32, "limit": None, "n_items": 200, "num_fewshot": {},
            "gen_length": 4, "steps": 4, "block_length": 4}


def eval_settings(config: dict) -> dict:
    """The ``eval`` section with defaults filled in (what the run actually used)."""
    section = dict(config.get("eval", {}))
    return {k: section.get(k, v) for k, v in DEFAULTS.items()} | {"tasks": list(section.get("tasks", []))}


def _build_tasks(args: argparse.Namespace, config: dict) -> None:
    from sinkprune.evaluate.tasks import build_tasks

    settings = eval_settings(config)
    tasks = args.tasks.split(",") if args.tasks else settings["tasks"]
    paths = build_tasks(args.out_dir, int(config["seed"]), int(settings["n_items"]), tasks)
    print(f"wrote {len(paths)} tasks to {args.out_dir}: {', '.join(p.stem for p in paths)}")


def _evaluate(args: argparse.Namespace, config: dict) -> None:
    from sinkprune.evaluate.run import evaluate_model, resolve_tasks, write_stable
    from sinkprune.models.checkpoint import resolve_checkpoint

    settings = eval_settings(config)
    tasks = args.tasks.split(",") if args.tasks else settings["tasks"]
    if len(args.model) != len(args.out):
        raise KeyError(f"give one --out per --model ({len(args.model)} models, {len(args.out)} outputs)")
    # Everything that can fail on input is checked here, before any model is loaded.
    first = resolve_tasks(tasks, args.tasks_dir, settings["num_fewshot"])
    for model in args.model:
        resolve_checkpoint(model)  # FileNotFoundError naming the directory or hub id
    for i, (model, out) in enumerate(zip(args.model, args.out)):
        # Fresh task objects per model, so each result equals that of a run on its own.
        resolved = resolve_tasks(tasks, args.tasks_dir, settings["num_fewshot"]) if i else first
        write_stable(evaluate_model(model, resolved, settings, seed=int(config["seed"])), out)
        print(f"wrote {out}")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; ``build-tasks`` writes the mini tasks, otherwise evaluate one model."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # No network at run time: a missing dataset is an error naming it, not a download.
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sinkprune.config import load_config, set_threads

    if argv[:1] == ["build-tasks"]:
        parser = argparse.ArgumentParser(prog="sinkprune evaluate build-tasks",
                                         description="write the offline mini tasks (YAML + JSONL + tasks.json)")
        parser.add_argument("--out-dir", required=True)
        parser.add_argument("--tasks", default=None, help="comma-separated; default: config eval.tasks")
        parser.add_argument("--config", required=True)
        args = parser.parse_args(argv[1:])
        _build_tasks(args, load_config(args.config))
        return
    parser = argparse.ArgumentParser(prog="sinkprune evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # Repeatable (paired with --out): several models in one process share the ~5 s of imports.
    parser.add_argument("--model", required=True, action="append",
                        help="checkpoint directory (or hub id at paper scale); repeatable")
    parser.add_argument("--tasks-dir", default=None, help="directory of task YAMLs (mini tasks)")
    parser.add_argument("--tasks", default=None, help="comma-separated lm-eval task names; default: config eval.tasks")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True, action="append",
                        help="JSON file of the stable part of the results; one per --model")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    set_threads(config)
    try:
        _evaluate(args, config)
    except (KeyError, FileNotFoundError) as err:
        sys.exit(f"error: {err.args[0] if err.args else err}")


if __name__ == "__main__":
    main()
