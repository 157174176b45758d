"""Command line of the evaluate stage (rules/eval.smk; runnable by hand).

    sinkprune evaluate --model DIR --tasks-dir results/data/tasks \
        --tasks mini_mmlu,mini_piqa --config C.yaml --out results/eval/{model}/{method}/{sparsity}.json
        [--model DIR2 --out OUT2 ...]   (several models in one process: imports paid once; a model
        whose files equal an earlier one's gets a copy of its results)
        [--perplexity P.json ... --text heldout.txt]   (each model's perplexity too, same process)
    sinkprune evaluate build-tasks --config C.yaml --out-dir results/data/tasks
    sinkprune evaluate merge PART.json [PART.json ...] --out M.json   (per-task results of one model)
    sinkprune evaluate --shard I/K --tasks T ...   (documents I::K of task T; merge joins the shards)
    sinkprune evaluate perplexity --config C.yaml --model DIR --out P.json [--text heldout.txt]
        [--model DIR2 --out P2.json ...]   (the release's WikiText-2 perplexity; mini: held-out text)

Config keys read: ``seed``, ``threads``, ``device``, ``dtype``, ``eval.tasks`` (default of
--tasks), ``eval.mc_num``, ``eval.batch_size``, ``eval.limit`` (null = all items), and optionally ``eval.n_items``,
``eval.num_fewshot`` ({task: shots} overrides), ``eval.gen_length``, ``eval.steps``,
``eval.block_length``, ``eval.cfg`` ({task: classifier-free guidance weight}), ``eval.task_mc_num``
({task: mc_num}) and the top-level ``protocol`` (released | corrected). Runs offline (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE are set). A task
lm-eval does not know, or a missing dataset file, fails before any model is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULTS = {"mc_num": 8, "batch_size": 32, "limit": None, "n_items": 200, "num_fewshot": {},
            "gen_length": 4, "steps": 4, "block_length": 4, "cfg": {}, "task_mc_num": {}}


def eval_settings(config: dict) -> dict:
    """The ``eval`` section with defaults filled in (what the run actually used), and the protocol."""
    section = dict(config.get("eval", {}))
    return ({k: section.get(k, v) for k, v in DEFAULTS.items()} | {"tasks": list(section.get("tasks", []))}
            | {"protocol": config.get("protocol", "corrected")})


def _build_tasks(args: argparse.Namespace, config: dict) -> None:
    from sinkprune.evaluate.tasks import build_tasks

    settings = eval_settings(config)
    tasks = args.tasks.split(",") if args.tasks else settings["tasks"]
    paths = build_tasks(args.out_dir, int(config["seed"]), int(settings["n_items"]), tasks)
    print(f"wrote {len(paths)} tasks to {args.out_dir}: {', '.join(p.stem for p in paths)}")


def _evaluate(args: argparse.Namespace, config: dict) -> None:
    from sinkprune.device import placement
    from sinkprune.evaluate.run import evaluate_model, resolve_tasks, write_stable
    from sinkprune.evaluate.same_weights import first_equal
    from sinkprune.models.checkpoint import resolve_checkpoint

    placement(config)  # a GPU asked for and absent fails here, naming config key 'device'
    settings = eval_settings(config)
    tasks = args.tasks.split(",") if args.tasks else settings["tasks"]
    if len(args.model) != len(args.out):
        raise KeyError(f"give one --out per --model ({len(args.model)} models, {len(args.out)} outputs)")
    # A per-task job (eval.split: task) runs a subset of eval.tasks: shot counts of the config's
    # other tasks are dropped, while a name in no task list still fails in resolve_tasks.
    shots = {k: v for k, v in settings["num_fewshot"].items() if k in tasks or k not in settings["tasks"]}
    # Everything that can fail on input is checked here, before any model is loaded.
    # The same filter for the per-task settings of eval.cfg and eval.task_mc_num.
    for key in ("cfg", "task_mc_num"):
        settings[key] = {k: v for k, v in settings[key].items() if k in tasks or k not in settings["tasks"]}
    first = resolve_tasks(tasks, args.tasks_dir, shots)
    for key in ("cfg", "task_mc_num"):
        first.per_leaf(settings[key], key)  # KeyError naming a task not being evaluated
    for model in args.model:
        resolve_checkpoint(model)  # FileNotFoundError naming the directory or hub id
    shard = None
    if args.shard is not None:
        from sinkprune.evaluate.shards import parse_shard

        try:
            shard = parse_shard(args.shard)
        except ValueError as err:
            raise KeyError(str(err)) from None
        if len(tasks) != 1:
            raise KeyError(f"--shard evaluates one task, got --tasks {','.join(tasks)}")
    ppl = None
    if args.perplexity and shard is not None:
        raise KeyError("--perplexity scores whole models; a --shard job cannot write it")
    if args.perplexity:
        if len(args.perplexity) != len(args.model):
            raise KeyError(f"give one --perplexity per --model ({len(args.model)} models, "
                           f"{len(args.perplexity)} perplexity outputs)")
        ppl = _perplexity_input(args.text, config)
    same = first_equal(args.model)
    for i, (model, out) in enumerate(zip(args.model, args.out)):
        if same[i] != i:
            _copy_results(i, same[i], args)
            continue
        # Fresh task objects per model, so each result equals that of a run on its own.
        resolved = resolve_tasks(tasks, args.tasks_dir, shots) if i else first
        write_stable(evaluate_model(model, resolved, settings, seed=int(config["seed"]),
                                    device=config.get("device"), dtype=config.get("dtype"), shard=shard), out)
        print(f"wrote {out}")
        if ppl is not None:
            # Perplexity draws its masks from generators seeded per window, not from the global
            # generator lm-eval advanced, so it equals `sinkprune evaluate perplexity` on its own.
            _write_perplexity(model, ppl, config, args.perplexity[i])


def _copy_results(i: int, source: int, args: argparse.Namespace) -> None:
    """Model ``i`` has the files of model ``source`` (scored earlier in this job): copy its outputs."""
    import shutil

    pairs = [(args.out[source], args.out[i])]
    if args.perplexity:
        pairs.append((args.perplexity[source], args.perplexity[i]))
    for done, out in pairs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(done, out)
        print(f"wrote {out}: {args.model[i]} has the files of {args.model[source]} (scored once)")


def _perplexity_input(text_file: str | None, config: dict) -> tuple:
    """(settings, text, source) of the perplexity runs; a missing text file fails here."""
    from sinkprune.evaluate.perplexity import PerplexitySettings, dataset_lines, release_text

    settings = PerplexitySettings.from_config(config.get("eval", {}).get("perplexity"))
    if text_file is not None and not Path(text_file).is_file():
        raise FileNotFoundError(f"--text {text_file} does not exist")
    text = release_text(dataset_lines(settings, text_file), settings.rows)
    source = Path(text_file).name if text_file else f"{settings.dataset}/{settings.subset}/{settings.split}"
    return settings, text, source


def _write_perplexity(model_path: str, prepared: tuple, config: dict, out: str) -> None:
    """Load ``model_path`` and write its perplexity JSON to ``out``."""
    from sinkprune.data.tokenizer import load_tokenizer
    from sinkprune.device import placement
    from sinkprune.evaluate.perplexity import perplexity, token_stream
    from sinkprune.evaluate.run import write_stable
    from sinkprune.models import load_model

    settings, text, source = prepared
    protocol = config.get("protocol", "corrected")
    device, dtype = placement(config)  # paper: the GPU in bfloat16, as the evaluation loads it
    model = load_model(model_path, device=device, dtype=dtype).eval()
    tokenizer = load_tokenizer(model.source_dir)  # no remote code (Dream's tokenizer is in auto_map)
    ids = token_stream(tokenizer, text, protocol, model.bos_id)
    result = perplexity(model, ids, settings, seed=int(config["seed"]))
    result |= {"protocol": protocol, "family": model.family, "source": source}
    write_stable(result, out)
    print(f"wrote {out}: perplexity {result['perplexity']:.4f} over {result['windows']} windows")


def _perplexity(args: argparse.Namespace, config: dict) -> None:
    from sinkprune.models.checkpoint import resolve_checkpoint

    if len(args.model) != len(args.out):
        raise KeyError(f"give one --out per --model ({len(args.model)} models, {len(args.out)} outputs)")
    prepared = _perplexity_input(args.text, config)
    for model in args.model:
        resolve_checkpoint(model)  # FileNotFoundError naming the directory or hub id
    for model_path, out in zip(args.model, args.out):
        _write_perplexity(model_path, prepared, config, out)


def _run(step, args: argparse.Namespace) -> None:
    """Run ``step(args, config)`` at the config's thread count; bad input exits naming it."""
    from sinkprune.config import load_config, set_threads

    config = load_config(args.config)
    set_threads(config)
    try:
        step(args, config)
    except (KeyError, FileNotFoundError) as err:
        sys.exit(f"error: {err.args[0] if err.args else err}")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; ``build-tasks`` writes the mini tasks, otherwise evaluate one model."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # No network at run time: a missing dataset is an error naming it, not a download.
    from sinkprune.hub import use_offline_cache

    use_offline_cache()
    from sinkprune.config import load_config

    if argv[:1] == ["merge"]:
        from sinkprune.evaluate.merge import main as merge_main

        merge_main(argv[1:])
        return
    if argv[:1] == ["build-tasks"]:
        parser = argparse.ArgumentParser(prog="sinkprune evaluate build-tasks",
                                         description="write the offline mini tasks (YAML + JSONL + tasks.json)")
        parser.add_argument("--out-dir", required=True)
        parser.add_argument("--tasks", default=None, help="comma-separated; default: config eval.tasks")
        parser.add_argument("--config", required=True)
        args = parser.parse_args(argv[1:])
        _build_tasks(args, load_config(args.config))
        return
    if argv[:1] == ["perplexity"]:
        parser = argparse.ArgumentParser(prog="sinkprune evaluate perplexity",
                                         description="the release's WikiText-2 perplexity of each model")
        parser.add_argument("--model", required=True, action="append", help="checkpoint directory; repeatable")
        parser.add_argument("--out", required=True, action="append", help="JSON per --model")
        parser.add_argument("--text", default=None, help="text file (mini: held-out corpus); default: eval.perplexity dataset")
        parser.add_argument("--config", required=True)
        _run(_perplexity, parser.parse_args(argv[1:]))
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
    parser.add_argument("--shard", default=None, metavar="I/K",
                        help="score documents I, I+K, ... of the one task (eval.shards); merge joins the K results")
    parser.add_argument("--perplexity", action="append", default=None,
                        help="also write the model's perplexity JSON (as `perplexity`); one per --model")
    parser.add_argument("--text", default=None,
                        help="with --perplexity: text file (mini: held-out corpus); default: eval.perplexity dataset")
    _run(_evaluate, parser.parse_args(argv))


if __name__ == "__main__":
    main()
