"""`snakemake plan` (sinkprune/plan.py): sizes, one job's arithmetic by hand, limits, the DAG's jobs."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from sinkprune.config import load_config
from sinkprune.plan import Arch, KNOWN_ARCHITECTURES, build_plan, model_arch, peak_disk_bytes

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests" / "config" / "smoke.yaml"
PAPER = ROOT / "config" / "paper.yaml"
MINI = ROOT / "config" / "mini.yaml"


def _env(tmp_path: Path) -> dict[str, str]:
    # An empty Hugging Face cache: the plan and the dry run must not need any checkpoint.
    return dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")


def _hand_config(tmp_path: Path, **resources) -> dict:
    """Smoke config, one pruned model × wanda × 0.50, one task whose counts are given in plan.tasks."""
    config = yaml.safe_load(SMOKE.read_text())
    config["prune"]["methods"] = ["wanda"]
    config["eval"] |= {"tasks": ["toy"], "mc_num": 2, "batch_size": 16, "limit": 8}
    config["plan"] = {"cpu_gflops": 1.0, "job_overhead_s": 10, "io_gbps": 1.0, "host_base_gb": 0.5,
                      "tasks": {"toy": {"docs": 10, "options": 2, "tokens": 16, "continuation": 2}}}
    config["resources"] |= resources
    return config


@pytest.mark.parametrize("family", ["llama", "qwen2", "dream", "llada"])
def test_parameter_count_equals_a_built_model(family):
    from sinkprune.models.checkpoint import build_model

    arch = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 48,
            "tie_embeddings": family == "llama"}
    if family == "llada":
        arch["num_kv_heads"] = 4
    model = build_model(family, arch, vocab_size=100, max_seq_len=16,
                        special_ids={"bos": 0, "eos": 1, "pad": 2, "mask": 3}, seed=0)
    config = {"models": {"m": {"family": family, "kind": "dlm", "standin_for": "x", "arch": arch, "train": {}}},
              "data": {"tokenizer": {"vocab_size": 100}}}
    planned, source = model_arch(config, "m")
    assert source == "config arch"
    assert planned.params() == sum(p.numel() for p in model.parameters())


def test_known_sizes_of_the_paper_checkpoints():
    # By hand: LLaDA-8B = 2·126464·4096 (embeddings, head) + 32·(4·4096² + 3·4096·12288 + 2·4096)
    # + 4096 = 8 015 581 184 (docs/families.md: 8.016 B); Dream-7B = 2·152064·3584
    # + 28·(2·3584² + 2·3584·512 + 3584 + 2·512 + 3·3584·18944 + 2·3584) + 3584 = 7 615 616 512.
    assert KNOWN_ARCHITECTURES["GSAI-ML/LLaDA-8B-Base"].params() == 8_015_581_184
    assert KNOWN_ARCHITECTURES["Dream-org/Dream-v0-Base-7B"].params() == 7_615_616_512
    assert KNOWN_ARCHITECTURES["Gen-Verse/MMaDA-8B-Base"].params() == 8_015_581_184 + 2 * 8192 * 4096


def test_one_evaluation_job_by_hand(tmp_path):
    config = _hand_config(tmp_path)
    config["eval"]["split"] = "task"
    config["resources"]["evaluate"] = {"mem_mb": 1000, "runtime": 10, "gpu": 1}
    job = next(j for j in build_plan(config)
               if j.rule == "evaluate_task" and j.wildcards == "model=tiny-llada,method=wanda,sparsity=0.50,task=toy")
    # tiny-llada: hidden 32, 2 layers, 2 heads, MLP 64, vocabulary 512, tied embeddings.
    block = 4 * 32 * 32 + 3 * 32 * 64 + 2 * 32  # q k v o, gate up down, two norms = 10304
    params = 512 * 32 + 2 * block + 32  # = 37024
    # One forward over 16 tokens, head on the 2 continuation tokens: 2·16·2·10304 (blocks)
    # + 4·2·16²·32 (QKᵀ, AV) + 2·2·512·32 (head) = 659456 + 65536 + 65536.
    forward = 659456 + 65536 + 65536
    # limit 8 of 10 docs × 2 options × min(mc_num 2, 2² − 1) rows.
    assert job.flops == 8 * 2 * 2 * forward == 25_296_896
    weights = params * 4  # fp32
    # Batch 16 × (16 tokens × (3·64 + 4·32) × 4 B + 2 heads × 16 × 16 × 6 B + 2 × 512 × 6 B).
    activations = 16 * (16 * (3 * 64 + 4 * 32) * 4 + 2 * 16 * 16 * 6 + 2 * 512 * 6)
    assert job.gpu_mem == weights + activations == 148_096 + 475_136
    # Start-up + compute at 150 TFLOPS (the GPU default) + reading the weights and writing 1 MB at 1 GB/s.
    assert job.seconds == pytest.approx(10 + 25_296_896 / 150e12 + (weights + 1e6) / 1e9)
    assert job.gpu_hours == pytest.approx(job.seconds / 3600)


def test_over_limit_job_is_flagged_and_plan_exits_nonzero(tmp_path):
    config = _hand_config(tmp_path, prune={"mem_mb": 1, "runtime": 10, "gpu": 0})
    flagged = [j for j in build_plan(config) if j.flags]
    assert [(j.rule, j.wildcards) for j in flagged] == [("prune", "model=tiny-llada")]
    assert "mem_mb 1" in flagged[0].flags[0]
    path = tmp_path / "over.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "sinkprune.plan", "--config", str(path), "--out",
                           str(tmp_path / "plan.tsv")], capture_output=True, text=True, env=_env(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "prune[model=tiny-llada]: host" in proc.stdout
    rows = (tmp_path / "plan.tsv").read_text().splitlines()
    assert rows[0].startswith("rule\twildcards\tstage\tflops") and any("mem_mb 1" in r for r in rows)


def test_paper_plan_fits_its_resources(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    jobs = build_plan(load_config(PAPER))
    assert [f"{j.rule}[{j.wildcards}]: {j.flags}" for j in jobs if j.flags] == []
    gpu_hours = sum(j.gpu_hours for j in jobs)
    assert 100 < gpu_hours < 100_000
    # Every GPU stage requests a GPU at paper scale.
    assert all(j.gpus == 1 for j in jobs if j.stage in ("prune", "evaluate") and j.rule != "merge_eval")


def test_peak_disk_counts_every_temporary_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    config = load_config(PAPER)
    jobs = build_plan(config)
    pruned = [j for j in jobs if j.rule == "prune"]
    prune = config["prune"]
    runs = sum(len(prune["structured_ratios"] if m.endswith("structured") else prune["sparsities"])
               for m in prune["methods"]) * len(prune["models"])
    assert len(pruned) == runs and all(j.temp for j in pruned)
    # An unstructured LLaDA-8B checkpoint in bf16: every parameter kept (zeros are stored).
    llada = next(j for j in pruned if j.wildcards == "model=llada,method=wanda,sparsity=0.50")
    assert llada.out_bytes == 8_015_581_184 * 2
    assert peak_disk_bytes(config) == int(sum(j.out_bytes for j in jobs))
    assert peak_disk_bytes(config) > sum(j.out_bytes for j in pruned)


def _dry_run_counts(tmp_path: Path, configfile: Path) -> Counter:
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path / "w"),
                           "-n", "all", "--configfile", str(configfile), "--quiet", "rules"],
                          capture_output=True, text=True, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    table = text[text.index("Job stats:"):]
    counts = Counter()
    for line in table.splitlines()[3:]:
        m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if not m or m.group(1) == "total":
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("all", None)
    return counts


@pytest.mark.parametrize("configfile", [PAPER, MINI, SMOKE], ids=["paper", "mini", "smoke"])
def test_plan_lists_the_jobs_of_the_dag(tmp_path, monkeypatch, configfile):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    planned = Counter(j.rule for j in build_plan(load_config(configfile)))
    assert planned == _dry_run_counts(tmp_path, configfile)


def test_unknown_hub_model_names_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    config = copy.deepcopy(load_config(PAPER))
    config["models"]["llada"]["path"] = "someone/unknown-8b"
    with pytest.raises(KeyError, match="someone/unknown-8b"):
        build_plan(config)


def test_sizes_come_from_a_local_config_json(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4, '
                                      '"mlp_hidden_size": 96, "embedding_size": 200, "weight_tying": false}')
    config = {"models": {"m": {"family": "llada", "kind": "dlm", "standin_for": "x", "path": str(ckpt)}}}
    arch, source = model_arch(config, "m")
    assert source == str(ckpt / "config.json")
    assert arch == Arch(64, 2, 4, 4, 96, 200, False)
