"""The paper scale end to end, offline, on tiny stand-ins of the real checkpoints and benchmarks.

tests/config/paper_tiny.yaml is config/paper.yaml with only sizes shrunk (same hub ids, same
WikiText-2 calibration, all nine lm-eval tasks); the Hugging Face cache is tests/hub_fixture.py's.
With HF_HUB_OFFLINE=1 the DAG must run calibration → sinks → prune → evaluation → tables for
real: every model family's on-disk quirks, Dream's remote-code tokenizer, the BOS rule, the AR
reference without BOS, lm-eval's own task configs reading the cached datasets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "config" / "paper_tiny.yaml"
TARGETS = ["results/tables/main.csv", "results/tables/sinks.csv"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def paper_run(hub_home, tmp_path_factory) -> Path:
    """One offline run of the DAG up to the tables; returns its working directory."""
    workdir = tmp_path_factory.mktemp("paper_path")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {"HF_HOME": str(hub_home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *TARGETS,
                           "--configfile", str(CONFIG), "-c", "2", "-d", str(workdir)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "logs").rglob("*.log"))
                         if "Traceback" in p.read_text())
        raise AssertionError(f"paper path failed ({proc.returncode}):\n{proc.stderr[-5000:]}\n{logs}")
    return workdir


def test_every_pruned_model_is_evaluated_on_every_paper_task(paper_run):
    config = yaml.safe_load(CONFIG.read_text())
    table = pd.read_csv(paper_run / "results/tables/main.csv")
    assert set(table["model"]) == set(config["prune"]["models"])
    assert set(table["method"]) == {"dense", *config["prune"]["methods"]}
    tasks = set(table["task"])
    for task in config["eval"]["tasks"]:
        assert task in tasks, f"{task} missing from main.csv ({sorted(tasks)})"
    assert table["value"].notna().all()


def test_sink_statistics_cover_all_five_models_trained_and_untrained(paper_run):
    sinks = pd.read_csv(paper_run / "results/tables/sinks.csv")
    assert set(sinks["model"]) == {"llada", "llada15", "dream", "mmada", "qwen25"}
    assert set(sinks["state"]) >= {"trained", "untrained"}


def test_calibration_follows_the_released_loader(paper_run):
    # The paper config runs protocol: released, whose calibration windows are the released
    # loader's (no BOS inserted); the family BOS rules are tested in test_tokenizers_real.py.
    import torch

    for m in ("llada", "llada15", "mmada", "dream", "qwen25"):
        log = (paper_run / f"logs/data/calibration/{m}.log").read_text()
        assert "calibration (protocol released)" in log, log
        ids = torch.load(paper_run / f"results/data/calibration/{m}.pt")["input_ids"]
        assert tuple(ids.shape) == (2, 64)
