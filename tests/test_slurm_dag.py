"""The real DAG through the SLURM profile: a smoke subset (data → training) via sbatch.

Needs a running cluster (`workflow/slurm/setup.sh`, which .ci/run calls as root). Asserts that
every job of the subset ran as its own SLURM job and that its outputs are byte-identical to a
local run of the same targets.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sinkprune.checksums import build_manifest

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "tests" / "config" / "smoke.yaml"
TARGETS = ("results/models/tiny-llada/train_log.json", "results/data/calibration/tiny-llada.pt")
RULES = {"corpus", "tokenizer", "streams", "calibration", "train_model"}

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sinfo") is None,
                       reason="SLURM not installed (no `sinfo`); run workflow/slurm/setup.sh as root"),
]


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(SMOKE), *args, *TARGETS]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("slurm_dag")
    # `--profile slurm` is resolved from the repo root (cwd), exactly as a user types it.
    _run(base / "slurm", "--profile", "slurm", "--slurm-init-seconds-before-status-checks", "1")
    _run(base / "local", "-c", "2")
    return base / "slurm", base / "local"


def test_each_job_was_submitted_with_sbatch(runs):
    slurm_dir, _ = runs
    logs = list((slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"))
    rules = {next(p for p in log.parts if p.startswith("rule_"))[len("rule_"):] for log in logs}
    assert rules == RULES, f"SLURM logs for {sorted(rules)}, expected {sorted(RULES)}"
    ids = [log.stem for log in logs]
    assert all(i.isdigit() for i in ids) and len(set(ids)) == len(ids), ids


def test_outputs_match_a_local_run(runs):
    slurm_dir, local_dir = runs

    def digests(root: Path) -> dict[str, str]:
        return {str(Path(p).relative_to(root / "results")): h
                for h, p in build_manifest(root / "results", root / "none")}

    via_slurm, local = digests(slurm_dir), digests(local_dir)
    assert "models/tiny-llada/trained/model.safetensors" in via_slurm
    assert via_slurm == local
