"""Run lm-eval on one model and keep only the stable part of its output.

``resolve_tasks`` does every input check (task names known to lm-eval, mini-task data files
present, datasets loadable offline) before ``evaluate_model`` loads the model, so bad input
fails in seconds and names what is wrong. The written JSON has sorted keys and no dates, hosts,
paths or timings: the same model, tasks and config give byte-identical files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# lm-eval output sections that are deterministic and needed downstream.
STABLE_KEYS = ("results", "groups", "group_subtasks", "versions", "n-shot", "higher_is_better", "n-samples")


@dataclass
class ResolvedTasks:
    """Loaded lm-eval task objects, ready for ``simple_evaluate``."""

    names: list[str]
    manager: Any  # lm_eval.tasks.TaskManager
    objects: list[Any]  # Task / Group per requested name
    chance: dict[str, float]
    data_files: dict[str, dict[str, str]]  # task → split → file name (for the record)
    config_files: dict[str, str] = field(default_factory=dict)  # local task → its YAML's file name
    leaves: dict[str, list[str]] | None = None  # requested name → leaf task names (requests carry these)

    def per_leaf(self, by_task: dict[str, Any], key: str) -> dict[str, Any]:
        """A per-task setting (``eval.<key>``, keyed by requested names) spread to every leaf task."""
        unknown = sorted(set(by_task) - set(self.names))
        if unknown:
            raise KeyError(f"eval.{key} names task(s) not being evaluated: {', '.join(unknown)}")
        leaves = self.leaves or {}
        return {leaf: value for name, value in by_task.items() for leaf in leaves.get(name, [name])}


@functools.lru_cache(maxsize=4)
def task_manager(include_defaults: bool):
    """lm-eval TaskManager, cached: indexing the built-in tasks takes ~10 s and never changes.

    Local (mini) tasks are loaded from their parsed YAML, not through an include path.
    """
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=include_defaults)


def _local_yaml(tasks_dir: Path | None, name: str) -> Path | None:
    if tasks_dir is None:
        return None
    path = tasks_dir / f"{name}.yaml"
    return path if path.exists() else None


def resolve_tasks(names: list[str], tasks_dir: str | Path | None, num_fewshot: dict[str, int]) -> ResolvedTasks:
    """Check and load ``names``; raises KeyError / FileNotFoundError naming the bad task or file."""
    from sinkprune.evaluate.tasks import chance_levels

    if not names:
        raise KeyError("no tasks given (--tasks or config eval.tasks)")
    tasks_dir = Path(tasks_dir) if tasks_dir else None
    if tasks_dir is not None and not tasks_dir.is_dir():
        raise FileNotFoundError(f"tasks directory {tasks_dir} does not exist")
    local = {n: _local_yaml(tasks_dir, n) for n in names}
    builtin = [n for n, path in local.items() if path is None]
    if builtin:
        # Names not in tasks_dir must be lm-eval's own; checked against the cached built-in index.
        known = set(task_manager(True).all_tasks)
        unknown = [n for n in builtin if n not in known]
        if unknown:
            where = f" (nor in {tasks_dir})" if tasks_dir else ""
            raise KeyError(f"unknown task(s) for lm-eval {_lm_eval_version()}{where}: {', '.join(unknown)}")
    # Indexing lm-eval's ~10k built-in task files takes seconds; skip it when all tasks are local.
    manager = task_manager(bool(builtin))
    data_files: dict[str, dict[str, str]] = {}
    specs: dict[str, str | dict] = {n: n for n in names}
    for name, path in local.items():
        if path is None:
            continue
        spec = yaml.safe_load(path.read_text()) or {}
        files = (spec.get("dataset_kwargs") or {}).get("data_files") or {}
        # Data files are named relative to the YAML (tasks.py); lm-eval would resolve them
        # against the working directory, so the task is loaded from its config with them made
        # absolute here.
        located = {split: path.parent / f for split, f in files.items()}
        missing = [str(f) for f in located.values() if not f.exists()]
        if missing:
            raise FileNotFoundError(f"task {name}: dataset file(s) missing: {', '.join(missing)}")
        data_files[name] = {split: f.name for split, f in sorted(located.items())}
        if files:
            spec["dataset_kwargs"] = dict(spec["dataset_kwargs"],
                                          data_files={k: str(f.resolve()) for k, f in located.items()})
        specs[name] = spec
    unknown_overrides = sorted(set(num_fewshot) - set(names))
    if unknown_overrides:
        raise KeyError(f"eval.num_fewshot names task(s) not being evaluated: {', '.join(unknown_overrides)}")
    try:
        loaded = manager.load([specs[n] for n in names])
    except Exception as err:  # datasets raises many types; the message must name the task
        raise FileNotFoundError(f"could not load task(s) {', '.join(names)} offline: {err}") from err
    objects = []
    for name in names:
        # A tag (a name for several tasks) has no object of its own: simple_evaluate reloads it.
        objects.append(loaded["groups"].get(name) or loaded["tasks"].get(name) or name)
    leaf_names: dict[str, list[str]] = {}
    for name in names:
        group = loaded["groups"].get(name)
        leaf_names[name] = sorted(t.config.task for t in group.get_all_tasks()) if group is not None else [name]
    for name, shots in num_fewshot.items():
        group = loaded["groups"].get(name)
        # An override on a group applies to each of its leaf tasks (e.g. the 57 MMLU subjects).
        leaves = group.get_all_tasks() if group is not None else [loaded["tasks"][name]]
        for task in leaves:
            task.set_config(key="num_fewshot", value=int(shots))
    chance = {n: c for n, c in (chance_levels(tasks_dir) if tasks_dir else {}).items() if n in names}
    config_files = {n: path.name for n, path in local.items() if path is not None}
    return ResolvedTasks(list(names), manager, objects, chance, data_files, config_files, leaf_names)


def _lm_eval_version() -> str:
    import lm_eval

    return getattr(lm_eval, "__version__", "unknown")


# lm-eval's command-line defaults (--seed 0,1234,1234,1234), which the release's
# ``cli_evaluate()`` ran with: the few-shot examples are drawn with seed 1234.
RELEASED_SEEDS = {"random_seed": 0, "numpy_random_seed": 1234, "torch_random_seed": 1234,
                  "fewshot_random_seed": 1234}


def harness_seeds(protocol: str, seed: int) -> dict[str, int]:
    """lm-eval's four seeds: the release's CLI defaults (``released``) or the config seed (``corrected``)."""
    if protocol == "released":
        return dict(RELEASED_SEEDS)
    return {k: seed for k in RELEASED_SEEDS}


BOOTSTRAP_ITERS = 1000


def evaluate_model(model: str, tasks: ResolvedTasks, settings: dict, seed: int,
                   device: str | None = None, dtype: str | None = None,
                   shard: tuple[int, int] | None = None) -> dict:
    """Load ``model`` as the ``sinkprune`` lm-eval model and run ``simple_evaluate``; stable dict.

    ``device`` / ``dtype``: the config keys of the same names (absent: cpu, float32).
    ``shard`` (I, K): score documents I::K of the one task given and keep each document's metric
    values under ``shard`` (sinkprune/evaluate/shards.py merges the K results).
    """
    import lm_eval

    from sinkprune.evaluate import shards

    from sinkprune.evaluate.lm import SinkpruneLM

    lm = SinkpruneLM(pretrained=model, mc_num=settings["mc_num"], batch_size=settings["batch_size"], seed=seed,
                     gen_length=settings["gen_length"], steps=settings["steps"],
                     block_length=settings["block_length"], device=device, dtype=dtype,
                     protocol=settings["protocol"], task_cfg=tasks.per_leaf(settings["cfg"], "cfg"),
                     task_mc_num=tasks.per_leaf(settings["task_mc_num"], "task_mc_num"))
    selection: dict[str, Any] = {"limit": settings["limit"]}
    if shard is not None:
        task = tasks.objects[0]
        if len(tasks.objects) != 1 or isinstance(task, str) or not hasattr(task, "eval_docs"):
            raise KeyError(f"eval.shards: a shard job evaluates one single task (not a group or tag), got "
                           f"{', '.join(tasks.names)}")
        # lm-eval takes either a limit or explicit documents: the shard's share of the limited set.
        aggregation = shards.aggregation_names(task)  # a metric the merge cannot recompute fails here
        selection = {"limit": None, "samples": {
            task.config.task: shards.prepare_shard(task, shard[0], shard[1], settings["limit"])}}
    with lean_harness():
        results = lm_eval.simple_evaluate(
            model=lm, tasks=tasks.objects, task_manager=tasks.manager, **selection,
            log_samples=shard is not None, bootstrap_iters=BOOTSTRAP_ITERS,
            **harness_seeds(settings["protocol"], seed),
        )
    stable = stable_results(results, lm.get_model_info(), tasks, settings, seed)
    if shard is not None:
        name = task.config.task
        stable["shard"] = _clean(shards.shard_record(name, shard[0], shard[1], results["samples"][name],
                                                     aggregation, BOOTSTRAP_ITERS))
    return stable


@contextlib.contextmanager
def lean_harness() -> Iterator[None]:
    """``simple_evaluate`` without two per-call costs that never reach the stable output.

    - lm-eval's environment record (``add_env_info``) runs ``pip list`` and other probes in
      subprocesses, ≈ 0.8 s per evaluated model; ``stable_results`` drops it.
    - ``lm_eval.utils.apply_template`` compiles a task's Jinja template again for every document;
      here each template is compiled once (rendering a compiled template gives the same text).
    The harness's own functions are restored on exit.
    """
    import lm_eval.evaluator as evaluator
    import lm_eval.utils as utils

    saved = evaluator.add_env_info, utils.apply_template
    evaluator.add_env_info = lambda results: None
    utils.apply_template = _apply_compiled_template
    try:
        yield
    finally:
        evaluator.add_env_info, utils.apply_template = saved


@functools.lru_cache(maxsize=1024)
def _compiled_template(source: str):
    import lm_eval.utils as utils

    return utils.env.from_string(source)


def _apply_compiled_template(template: str, doc: dict) -> str:
    return _compiled_template(template).render(**doc)


def _clean(value: Any) -> Any:
    """JSON-safe and deterministic: NaN → None, object reprs without memory addresses."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(value))


def stable_results(results: dict, model_info: dict, tasks: ResolvedTasks, settings: dict, seed: int) -> dict:
    """The deterministic part of lm-eval's output plus what a table needs beside it."""
    configs = {}
    for name, cfg in (results.get("configs") or {}).items():
        cfg = dict(cfg)
        if name in tasks.data_files:  # absolute paths differ between checkouts; keep file names
            cfg["dataset_kwargs"] = {"data_files": tasks.data_files[name]}
        if isinstance(cfg.get("metadata"), dict) and "config_source" in cfg["metadata"]:
            # Local tasks are loaded from their parsed YAML (lm-eval records "inline"): name the file.
            source = tasks.config_files.get(name, Path(str(cfg["metadata"]["config_source"])).name)
            cfg["metadata"] = dict(cfg["metadata"], config_source=source)
        configs[name] = {k: cfg.get(k) for k in ("task", "dataset_path", "dataset_name", "dataset_kwargs",
                                                  "output_type", "num_fewshot", "metric_list", "metadata",
                                                  "generation_kwargs", "filter_list", "target_delimiter",
                                                  "fewshot_delimiter") if k in cfg}
    stable = {k: results[k] for k in STABLE_KEYS if k in results}
    stable |= {"configs": configs, "chance": tasks.chance, "model": model_info, "seed": seed,
               "eval_settings": {k: v for k, v in settings.items() if k != "tasks"} | {"tasks": tasks.names},
               "lm_eval_version": _lm_eval_version()}
    return _clean(stable)


def write_stable(stable: dict, out: str | Path) -> None:
    """Write with sorted keys (byte-identical for identical content)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stable, indent=1, sort_keys=True) + "\n", encoding="utf-8")
