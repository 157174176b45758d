"""Real SLURM test: run tests/slurm_workflow through our slurm profile and through a local run.

Needs a running cluster (``sudo workflow/slurm/setup.sh`` gives a single-node one with a fake
GPU).  Skipped only when ``sinfo`` is not installed; a cluster that is installed but not answering
is a failure, not a skip, so a broken CI setup cannot hide behind a skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sinkprune.checksums import build_manifest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
WORKFLOW = Path(__file__).resolve().parent / "slurm_workflow"
RULES = ("numbers", "gpu_square", "join")

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(shutil.which("sinfo") is None,
                       reason="SLURM not installed (no `sinfo`); run workflow/slurm/setup.sh as root"),
]


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Snakemake with this interpreter in ``workdir``; output kept for failure messages."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, capture_output=True, text=True, timeout=600,
    )


def _copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(WORKFLOW / "Snakefile", dest / "Snakefile")
    return dest


def _outputs_manifest(workdir: Path) -> dict[str, str]:
    """path (relative to out/) -> sha256 of every output file of a run."""
    out = workdir / "out"
    return {str(Path(p).relative_to(out)): h for h, p in build_manifest(out, workdir / "none")}


@pytest.fixture(scope="module")
def cluster_ready() -> None:
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    states = proc.stdout.split()
    assert proc.returncode == 0 and any(s in ("idle", "mixed") for s in states), (
        f"SLURM is installed but no node is idle (sinfo rc={proc.returncode}, states={states}, "
        f"stderr={proc.stderr.strip()!r}); start it with workflow/slurm/setup.sh"
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cluster_ready: None) -> tuple[Path, Path]:
    """(slurm run dir, local run dir), each after a complete successful run."""
    base = tmp_path_factory.mktemp("slurm")
    slurm_dir = _copy_workflow(base / "via_slurm")
    # One-second first status check instead of the plugin's 40 s keeps the test short; everything
    # else comes from the profile under test.
    proc = _snakemake(slurm_dir, "--profile", str(PROFILE),
                      "--slurm-init-seconds-before-status-checks", "1")
    assert proc.returncode == 0, f"snakemake via slurm failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    local_dir = _copy_workflow(base / "local")
    proc = _snakemake(local_dir, "--cores", "1")
    assert proc.returncode == 0, f"local snakemake failed:\n{proc.stderr[-4000:]}"
    return slurm_dir, local_dir


def _job_ids(slurm_dir: Path) -> dict[str, str]:
    """rule -> SLURM job id, from the plugin's per-job logs (.snakemake/slurm_logs/rule_X/<id>.log)."""
    ids: dict[str, str] = {}
    for log in (slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"):
        rule = next(p for p in log.parts if p.startswith("rule_"))[len("rule_"):]
        ids[rule] = log.stem
    return ids


def test_every_job_went_through_sbatch(runs: tuple[Path, Path]) -> None:
    slurm_dir, _ = runs
    ids = _job_ids(slurm_dir)
    assert set(ids) == set(RULES), f"slurm logs found for {sorted(ids)}, expected {RULES}"
    for rule, job_id in ids.items():
        assert job_id.isdigit(), f"{rule}: slurm log name {job_id!r} is not a job id"
        # The job's own environment saw the same id SLURM assigned at submission.
        log = (slurm_dir / "logs" / f"{rule}.log").read_text()
        assert f"SLURM_JOB_ID={job_id}" in log, f"{rule}: log says {log!r}, expected job {job_id}"
    assert len(set(ids.values())) == len(RULES), "each rule must be its own SLURM job"


def test_gpu_job_was_allocated_a_gpu(runs: tuple[Path, Path]) -> None:
    slurm_dir, _ = runs
    log = (slurm_dir / "logs" / "gpu_square.log").read_text()
    # slurmd sets CUDA_VISIBLE_DEVICES only when the job holds a gpu GRES.
    m = re.search(r"CUDA_VISIBLE_DEVICES=(\S+)", log)
    assert m and m.group(1) != "unset", f"gpu job ran without a GPU allocation: {log!r}"
    job_id = _job_ids(slurm_dir)["gpu_square"]
    show = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30)
    if show.returncode == 0:  # only while the controller still remembers the job (MinJobAge)
        assert "gpu:1" in show.stdout, f"job {job_id} did not request gpu:1:\n{show.stdout}"
    for rule in ("numbers", "join"):
        assert "CUDA_VISIBLE_DEVICES" not in (slurm_dir / "logs" / f"{rule}.log").read_text()


def test_outputs_match_local_run(runs: tuple[Path, Path]) -> None:
    slurm_dir, local_dir = runs
    via_slurm, local = _outputs_manifest(slurm_dir), _outputs_manifest(local_dir)
    assert set(via_slurm) == {"numbers.txt", "squares.txt", "joined.txt"}
    assert via_slurm == local
    # The local run really was local: no job ids there.
    assert "SLURM_JOB_ID=none" in (local_dir / "logs" / "numbers.log").read_text()
