"""The paper DAG's jobs fit: one prune job per sparsity, one evaluation job per model × task,
baselines independent of the sink statistics, pruned checkpoints temporary; and the profiles.

Dry runs only, with an empty Hugging Face cache: none of it needs a checkpoint.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"


def _snakemake(tmp_path: Path, *args: str, cwd: Path = ROOT) -> str:
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-d", str(tmp_path / "w"), *args],
                          cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("paper")
    return _snakemake(tmp, "-n", "-p", "all", "--configfile", str(PAPER))


def _shell_commands(text: str, module: str) -> list[str]:
    return [line for line in text.splitlines() if f"sinkprune {module} " in line]


def test_one_prune_job_per_sparsity(paper_dry_run):
    config = yaml.safe_load(PAPER.read_text())
    prune = config["prune"]
    runs = [(m, meth, s) for m in prune["models"] for meth in prune["methods"]
            for s in (prune["structured_ratios"] if meth.endswith("structured") else prune["sparsities"])]
    commands = [c for c in _shell_commands(paper_dry_run, "prune") if " run " in c]
    found = sorted(re.search(r"--out results/prune/([^/]+)/(\w+)/([\d.-]+)/model", c).groups() for c in commands)
    assert found == sorted(runs)
    assert all(len(re.search(r"--sparsity (.*?) --out", c).group(1).split()) == 1 for c in commands)


def test_pruned_checkpoints_are_temporary(paper_dry_run):
    config = yaml.safe_load(PAPER.read_text())
    prune = config["prune"]
    runs = [(m, meth, s) for m in prune["models"] for meth in prune["methods"]
            for s in (prune["structured_ratios"] if meth.endswith("structured") else prune["sparsities"])]
    removed = set(re.findall(r"Would remove temporary output (results/prune/\S+/model)", paper_dry_run))
    assert removed == {f"results/prune/{m}/{meth}/{s}/model" for m, meth, s in runs}


def _paper_models(config: dict) -> int:
    """Evaluated models of the paper config: each pruned model dense plus every method × sparsity."""
    prune = config["prune"]
    per_model = sum(len(prune["structured_ratios"] if meth.endswith("structured") else prune["sparsities"])
                    for meth in prune["methods"])
    return len(prune["models"]) * (1 + per_model)


def test_one_evaluation_job_per_model_and_task_or_shard(paper_dry_run):
    config = yaml.safe_load(PAPER.read_text())
    shards = config["eval"]["shards"]
    assert shards, "the paper config shards GSM8K (eval.shards)"
    lines = paper_dry_run.splitlines()
    commands = [c for c in lines if "sinkprune evaluate --config" in c and "--tasks " in c]
    tasks = [re.search(r"--tasks (\S+)", c).group(1) for c in commands]
    assert all("," not in t for t in tasks)
    assert sorted(set(tasks)) == sorted(config["eval"]["tasks"])
    models = _paper_models(config)
    for task in config["eval"]["tasks"]:
        jobs = [c for c, t in zip(commands, tasks) if t == task]
        count = shards.get(task, 1)
        assert len(jobs) == models * count, task
        found = sorted(m.group(1) if (m := re.search(r"--shard (\S+)", c)) else "" for c in jobs)
        expected = sorted(f"{i}/{count}" for i in range(count)) * models if task in shards else [""] * models
        assert found == sorted(expected), task
    merges = [c for c in lines if "sinkprune evaluate merge " in c]
    files = sum(shards.get(t, 1) for t in config["eval"]["tasks"])
    assert len(merges) == models and all(m.count("results/eval_tasks/") == files for m in merges)
    assert all(f"gsm8k.shard{i}-of-{shards['gsm8k']}.json" in m for m in merges for i in range(shards["gsm8k"]))


@pytest.mark.parametrize("method,needs", [("magnitude", False), ("wanda", False), ("sparsegpt", False),
                                          ("sink_wanda", True), ("structured", False),
                                          ("sink_structured", True)])
def test_baselines_do_not_wait_for_shared_stats(tmp_path, method, needs):
    ratio = "0.30" if method.endswith("structured") else "0.50"
    out = _snakemake(tmp_path, "-n", f"results/prune/llada/{method}/{ratio}/report.json",
                     "--configfile", str(PAPER), "--quiet", "rules")
    assert ("prune_stats" in out) is needs


def test_slurm_profile_runs_the_paper_config(tmp_path):
    # From the repo root, as a user types it; printshellcmds of the slurm profile is not
    # overridden by profiles/default (the shell command is printed in the dry run).
    out = _snakemake(tmp_path, "--profile", "slurm", "-n", "results/data/calibration/llada.pt")
    assert f"--config {PAPER}" in out
    mini = _snakemake(tmp_path, "--profile", "slurm", "-n", "results/data/calibration/tiny-llada.pt",
                      "--configfile", "config/mini.yaml")
    assert f"--config {ROOT / 'config' / 'mini.yaml'}" in mini


def test_slurm_profile_works_from_another_directory(tmp_path):
    out = _snakemake(tmp_path, "-s", str(ROOT / "Snakefile"), "--profile", str(ROOT / "workflow/profiles/slurm"),
                     "-n", "results/data/calibration/llada.pt", cwd=tmp_path)
    assert f"--config {PAPER}" in out


def test_slurm_resources_come_from_the_config(tmp_path):
    config = yaml.safe_load(PAPER.read_text())
    config["resources"]["prune"] |= {"slurm_partition": "gpu", "slurm_account": "lab", "cpus_per_task": 4,
                                     "slurm_extra": "--qos=long"}
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    out = _snakemake(tmp_path, "-n", "results/prune/llada/wanda/0.50/report.json", "--configfile", str(path))
    resources = next(line for line in out.splitlines() if "slurm_partition" in line)
    for expected in ("slurm_partition=gpu", "slurm_account=lab", "cpus_per_task=4", "slurm_extra=--qos=long",
                     "gpu=1", "mem_mb=64000", "runtime=60"):
        assert expected in resources, resources
