"""Merge per-task evaluation results into the JSON one job over every task writes.

    sinkprune evaluate merge results/eval_tasks/M/meth/0.50/*.json --out results/eval/M/meth/0.50.json

With ``eval.split: task`` (paper scale) each task of a pruned model is its own job, so every job
fits its runtime. Each part is the stable output of ``sinkprune.evaluate`` for one task; the
merge takes the union of the per-task sections and checks that everything else (model, seed,
settings, lm-eval version) agrees. A task's numbers do not depend on the other tasks evaluated
with it (each request's Monte Carlo masks are seeded by its own tokens, few-shot samplers are
seeded per task), so the merged file has the same content as a single job's. Shards of one
task (``eval.shards``, a ``shard`` section in each part) are first joined into that task's
result (sinkprune/evaluate/shards.py). Written here because lm-eval has no merge of saved results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sinkprune.evaluate.run import write_stable

# Sections keyed by task (or group) name: merged as a union; a name in two parts must agree.
PER_TASK = ("results", "groups", "group_subtasks", "versions", "n-shot", "higher_is_better", "n-samples",
            "configs", "chance")


# Settings keyed by task that a per-task job records for its own task only (eval.cfg and
# eval.task_mc_num, in eval_settings and in the model record): merged as a union, like PER_TASK.
PER_TASK_SETTINGS = {"eval_settings": ("cfg", "task_mc_num"), "model": ("task_cfg", "task_mc_num")}


def merge_results(parts: list[dict[str, Any]], names: list[str] | None = None) -> dict[str, Any]:
    """One result dict from per-task ``parts`` (in task order); ValueError naming any conflict."""
    if not parts:
        raise ValueError("nothing to merge: no per-task results given")
    names = names or [f"part {i}" for i in range(len(parts))]
    parts, names = _join_shards(parts, names)
    merged: dict[str, Any] = {}
    tasks: list[str] = []
    unions: dict[str, dict[str, dict[str, Any]]] = {}
    for name, part in zip(names, parts):
        for key, value in part.items():
            if key in PER_TASK:
                section = merged.setdefault(key, {})
                for task, entry in value.items():
                    if task in section and section[task] != entry:
                        raise ValueError(f"{name}: '{key}.{task}' differs from an earlier part")
                    section[task] = entry
            elif key in PER_TASK_SETTINGS:
                per_task = PER_TASK_SETTINGS[key]
                settings = {k: v for k, v in value.items() if k not in ("tasks", *per_task)}
                if merged.setdefault(key, settings) != settings:
                    what = "eval_settings differ" if key == "eval_settings" else f"'{key}' differs"
                    raise ValueError(f"{name}: {what} from an earlier part")
                if key == "eval_settings":
                    tasks += [t for t in value.get("tasks", []) if t not in tasks]
                for setting in per_task:
                    if setting in value:
                        section = unions.setdefault(key, {}).setdefault(setting, {})
                        for task, entry in value[setting].items():
                            if section.setdefault(task, entry) != entry:
                                raise ValueError(f"{name}: '{key}.{setting}.{task}' differs from an earlier part")
            elif key not in merged:
                merged[key] = value
            elif merged[key] != value:
                raise ValueError(f"{name}: '{key}' differs from an earlier part ({merged[key]!r} vs {value!r})")
    for key, sections in unions.items():
        merged[key] = dict(merged[key], **sections)
    if "eval_settings" in merged:
        merged["eval_settings"] = dict(merged["eval_settings"], tasks=tasks)
    return merged


def _join_shards(parts: list[dict[str, Any]], names: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Parts with the shards of each task replaced by that task's joined result (at its first shard)."""
    from sinkprune.evaluate.run import _clean
    from sinkprune.evaluate.shards import merge_shards

    groups: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        if "shard" in part:
            groups.setdefault(part["shard"]["task"], []).append(i)
    out_parts, out_names = [], []
    for i, (part, name) in enumerate(zip(parts, names)):
        if "shard" not in part:
            out_parts.append(part)
            out_names.append(name)
        elif groups[part["shard"]["task"]][0] == i:
            idx = groups[part["shard"]["task"]]
            out_parts.append(_clean(merge_shards([parts[j] for j in idx], [names[j] for j in idx])))
            out_names.append(f"shards of {part['shard']['task']}")
    return out_parts, out_names


def main(argv: list[str] | None = None) -> None:
    """Merge the per-task JSON files given as arguments into ``--out``."""
    parser = argparse.ArgumentParser(prog="sinkprune evaluate merge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="+", help="per-task result JSON files, in the config's task order")
    parser.add_argument("--out", required=True, help="merged result JSON")
    args = parser.parse_args(argv)
    missing = [p for p in args.parts if not Path(p).is_file()]
    if missing:
        sys.exit(f"error: per-task result(s) missing: {', '.join(missing)}")
    parts = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.parts]
    try:
        merged = merge_results(parts, args.parts)
    except ValueError as err:
        sys.exit(f"error: {err}")
    write_stable(merged, args.out)
    print(f"merged {len(parts)} task result(s) into {args.out}")


if __name__ == "__main__":
    main()
