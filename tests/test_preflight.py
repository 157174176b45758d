"""`preflight`: every model file and dataset in the local cache, a GPU where wanted, disk room.

Run against the tiny hub cache of tests/hub_fixture.py (the real paper ids and datasets), then
against copies with files removed, then against an empty cache through `snakemake preflight`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_fixture import copy_hub_cache, snapshot

from sinkprune.config import load_config
from sinkprune.hub_needs import needed_datasets, needed_models
from sinkprune.preflight import gpu_problem, preflight

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"


@pytest.fixture(scope="module")
def paper_cpu() -> dict:
    """config/paper.yaml on a CPU (the GPU check has its own test)."""
    return dict(load_config(PAPER), device="cpu")


def test_the_paper_config_needs_five_models_and_every_task_dataset(paper_cpu):
    assert [n.repo_id for n in needed_models(paper_cpu)] == [
        "GSAI-ML/LLaDA-8B-Base", "GSAI-ML/LLaDA-1.5", "Dream-org/Dream-v0-Base-7B", "Gen-Verse/MMaDA-8B-Base",
        "Qwen/Qwen2.5-7B"]
    needs = {(n.path, n.name): n.users for n in needed_datasets(paper_cpu)}
    assert needs[("Salesforce/wikitext", "wikitext-2-raw-v1")] == ["calibration", "perplexity"]
    assert sum(path == "cais/mmlu" for path, _ in needs) == 57  # the mmlu group, expanded by lm-eval
    assert needs[("allenai/ai2_arc", "ARC-Challenge")] == ["arc_challenge"]
    assert needs[("Idavidrein/gpqa", "gpqa_main")] == ["gpqa_main_n_shot"]
    assert {p for p, _ in needs} == {"Salesforce/wikitext", "cais/mmlu", "allenai/ai2_arc", "baber/piqa", "allenai/winogrande",
                                     "openai/gsm8k", "Rowan/hellaswag", "Idavidrein/gpqa", "EleutherAI/race"}


def test_preflight_passes_on_a_complete_cache(offline_hub, paper_cpu, tmp_path):
    assert preflight(paper_cpu, needed_disk_bytes=1, workdir=tmp_path) == []


def test_preflight_names_each_removed_file_model_and_dataset(hub_home, paper_cpu, monkeypatch, tmp_path):
    home = copy_hub_cache(hub_home, tmp_path / "hf")
    monkeypatch.setenv("HF_HOME", str(home))
    hub = home / "hub"
    llada = snapshot(hub, "GSAI-ML/LLaDA-8B-Base")
    (llada / "model-00002-of-00002.safetensors").resolve().unlink()  # blob gone, link dangling
    (snapshot(hub, "Dream-org/Dream-v0-Base-7B") / "vocab.json").unlink()
    shutil.rmtree(hub / "models--Qwen--Qwen2.5-7B")
    shutil.rmtree(home / "datasets" / "cais___mmlu" / "anatomy")
    shutil.rmtree(home / "datasets" / "openai___gsm8k")
    problems = preflight(paper_cpu, needed_disk_bytes=1, workdir=tmp_path)
    assert len(problems) == 5, problems
    text = "\n".join(problems)
    assert "GSAI-ML/LLaDA-8B-Base (models.llada): missing model-00002-of-00002.safetensors" in text
    assert "Dream-org/Dream-v0-Base-7B (models.dream): missing tokenizer.json (or vocab.json)" in text
    assert "Qwen/Qwen2.5-7B (models.qwen25): not in the Hugging Face cache" in text
    assert "dataset cais/mmlu (anatomy) [mmlu]" in text
    assert "dataset openai/gsm8k (main) [gsm8k]" in text


def test_disk_short_of_the_plan_is_a_problem(offline_hub, paper_cpu, tmp_path):
    (problem,) = preflight(paper_cpu, needed_disk_bytes=1 << 60, workdir=tmp_path)
    assert problem.startswith("disk: the run needs") and "GB are free" in problem


def _path_with(tmp_path: Path, script: str | None) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if script:
        (bin_dir / "nvidia-smi").write_text(f"#!/bin/sh\necho '{script}'\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    return str(bin_dir)


def test_a_gpu_is_required_where_the_config_wants_one(monkeypatch, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", _path_with(tmp_path, None))  # no nvidia-smi, no sinfo
    assert "wants a GPU" in gpu_problem({"scale": "paper"})  # device defaults to auto
    assert "wants a GPU" in gpu_problem({"scale": "mini", "device": "cuda"})
    assert gpu_problem({"scale": "paper", "device": "cpu"}) is None
    assert gpu_problem({"scale": "mini"}) is None


def test_a_visible_gpu_satisfies_the_check(monkeypatch, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", _path_with(tmp_path, "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-0)"))
    assert gpu_problem({"scale": "paper", "device": "cuda"}) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "hides every GPU" in gpu_problem({"scale": "paper", "device": "cuda"})


def test_snakemake_preflight_on_an_empty_cache_names_every_model_and_dataset(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {"HF_HOME": str(tmp_path / "empty_hf"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "preflight",
                           "--configfile", str(PAPER), "-c", "1", "-d", str(tmp_path / "wd")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    config = load_config(PAPER)
    for need in needed_models(config):
        assert f"model {need.repo_id} (models.{need.key}): not in the Hugging Face cache" in message
    for need in needed_datasets(config):
        assert f"dataset {need.label} [" in message
    assert "Idavidrein/gpqa (gpqa_main) [gpqa_main_n_shot]: not in the datasets cache" in message
    assert "accept its terms" in message


def test_download_dry_run_lists_every_model_and_dataset_and_the_gated_one():
    proc = subprocess.run([sys.executable, "-m", "sinkprune.download", "--config", str(PAPER), "--dry-run"],
                          capture_output=True, text=True, check=True)
    config = load_config(PAPER)
    for need in needed_models(config):
        assert f"model {need.key}: {need.repo_id}" in proc.stdout
    datasets = needed_datasets(config)
    assert len(datasets) == 66  # WikiText-2, 57 MMLU subjects, 8 other benchmark configurations
    for need in datasets:
        assert f"dataset {need.label} [" in proc.stdout
    assert "NOTE Idavidrein/gpqa (gpqa_main): gated" in proc.stdout


@pytest.mark.slow
def test_download_against_a_complete_cache_finds_everything_and_succeeds(hub_home):
    """Offline, huggingface_hub and datasets answer from the cache: `download` then runs every
    real call it makes online (snapshot_download with the loader's patterns, load_dataset of
    each configuration) and must report all of them done."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {"HF_HOME": str(hub_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "sinkprune.download", "--config", str(PAPER)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("\nmodel ") == 5 and proc.stdout.count("\ndataset ") == 66
    assert "dataset cais/mmlu (anatomy): test 2, validation 1, dev 5" in proc.stdout
    assert proc.stdout.rstrip().endswith("download: done")
