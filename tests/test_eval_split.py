"""eval.split: task — per-task evaluation jobs merged by sinkprune.evaluate.merge — gives the bytes
one job over every task gives; prune.group_sparsities: false gives the same reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sinkprune.evaluate.merge import merge_results

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests" / "config" / "smoke.yaml"


def _part(task: str, acc: float) -> dict:
    return {"results": {task: {"acc,none": acc}}, "versions": {task: 1.0}, "n-samples": {task: {"effective": 8}},
            "configs": {task: {"task": task}}, "chance": {task: 0.25}, "model": {"family": "llada"}, "seed": 0,
            "eval_settings": {"mc_num": 2, "tasks": [task]}, "lm_eval_version": "0.4.13"}


def test_merge_is_the_union_in_task_order():
    merged = merge_results([_part("b", 0.5), _part("a", 0.75)])
    assert merged["results"] == {"b": {"acc,none": 0.5}, "a": {"acc,none": 0.75}}
    assert merged["eval_settings"] == {"mc_num": 2, "tasks": ["b", "a"]}
    assert merged["seed"] == 0 and merged["chance"] == {"a": 0.25, "b": 0.25}


@pytest.mark.parametrize("key,value", [("seed", 1), ("model", {"family": "dream"}),
                                       ("eval_settings", {"mc_num": 4, "tasks": ["a"]})])
def test_merge_refuses_parts_of_different_runs(key, value):
    other = _part("a", 0.75) | {key: value}
    with pytest.raises(ValueError, match=key):
        merge_results([_part("b", 0.5), other], ["b.json", "a.json"])


def test_merge_refuses_one_task_with_two_results():
    with pytest.raises(ValueError, match="results.a"):
        merge_results([_part("a", 0.5), _part("a", 0.75)])


def test_merge_joins_per_task_settings():
    """eval.cfg / eval.task_mc_num: each per-task job records its own task's entry; the merge
    gives the whole map one job records."""
    a, b = _part("a", 0.75), _part("b", 0.5)
    a["eval_settings"] = dict(a["eval_settings"], cfg={"a": 0.5}, task_mc_num={})
    b["eval_settings"] = dict(b["eval_settings"], cfg={}, task_mc_num={"b": 1})
    a["model"] = dict(a["model"], task_cfg={"a": 0.5}, task_mc_num={})
    b["model"] = dict(b["model"], task_cfg={}, task_mc_num={"b": 1})
    merged = merge_results([a, b])
    assert merged["eval_settings"] == {"mc_num": 2, "tasks": ["a", "b"], "cfg": {"a": 0.5}, "task_mc_num": {"b": 1}}
    assert merged["model"] == {"family": "llada", "task_cfg": {"a": 0.5}, "task_mc_num": {"b": 1}}
    clash = dict(b, eval_settings=dict(b["eval_settings"], cfg={"a": 0.25}))
    with pytest.raises(ValueError, match="eval_settings.cfg.a"):
        merge_results([a, clash])


def _snakemake(workdir: Path, config: Path, *targets: str) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
                           "-c", "2", *targets, "--configfile", str(config)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-5000:]


@pytest.mark.slow
def test_split_evaluation_equals_one_job(tmp_path):
    """Same working directory and config path, so training and calibration are not redone:
    first one job per model × method, then per-sparsity pruning and per-task evaluation."""
    config_path = tmp_path / "config.yaml"
    config = yaml.safe_load(SMOKE.read_text())
    config_path.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    evals = ["results/eval/tiny-llada/dense/0.00.json", "results/eval/tiny-llada/wanda/0.50.json"]
    report = "results/prune/tiny-llada/wanda/0.50/report.json"
    _snakemake(work, config_path, *evals)
    grouped = {p: (work / p).read_bytes() for p in [*evals, report]}
    shutil.rmtree(work / "results" / "eval")
    (work / report).unlink()

    config["prune"]["group_sparsities"] = False
    config["eval"]["split"] = "task"
    # The second task as 3 shards (documents i::3, eval.limit 8: 3, 3, 2), merged exactly.
    first, sharded = config["eval"]["tasks"][:2]
    config["eval"]["shards"] = {sharded: 3}
    config_path.write_text(yaml.safe_dump(config))
    _snakemake(work, config_path, *evals)
    for path, content in grouped.items():
        assert (work / path).read_bytes() == content, path
    parts = sorted(p.name for p in (work / "results/eval_tasks/tiny-llada/wanda/0.50").iterdir())
    assert parts == sorted([f"{first}.json"] + [f"{sharded}.shard{i}-of-3.json" for i in range(3)])
    # The pruned checkpoint is temporary: removed once its evaluations ran.
    assert not (work / "results/prune/tiny-llada/wanda/0.50/model").exists()
