"""End to end: the real DAG on the smoke config, asserting on the files it produces.

One run of `snakemake all` in a temporary working directory is shared by the tests below
(module-scoped fixture); each test then checks one promise of the walking skeleton.
"""

from __future__ import annotations

import os
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests" / "config" / "smoke.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--configfile", str(SMOKE), "-c", "2"]

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake on the smoke config in ``workdir``; output captured as text."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(SNAKEMAKE + ["-d", str(workdir), *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "logs").rglob("*.log"))
                         if "Error" in p.read_text() or "Traceback" in p.read_text())
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-6000:]}\n{logs}")
    return proc


def planned_rules(workdir: Path, *targets: str) -> set[str]:
    """Rule names a dry run would execute for ``targets``."""
    # Targets go before --quiet, whose values would otherwise swallow them.
    out = snakemake(workdir, "-n", *targets, "--quiet", "rules").stdout
    return {line.split()[0] for line in out.splitlines()
            if line.strip() and not line.startswith(("Job", "rule", "---", "total", "Building", "host"))
            and line.split()[-1].isdigit()}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("dag")
    snakemake(workdir, "all")
    return workdir


def test_dry_run_lists_every_stage(tmp_path):
    rules = planned_rules(tmp_path, "all")
    for rule in ("train_model", "sink_trajectory", "prune", "evaluate", "main_table",
                 "fig_sink_variance", "fig_accuracy", "manifest"):
        assert rule in rules, f"`snakemake -n all` does not plan rule {rule}: {sorted(rules)}"


def test_all_targets_exist(run_dir):
    for target in ("results/tables/main.csv", "paper/tables/main.tex", "results/tables/sinks.csv",
                   "results/claims/sink_variance.json", "figures/sink_variance.pdf", "figures/sink_variance.png",
                   "figures/accuracy_vs_sparsity.pdf", "figures/accuracy_vs_sparsity.png",
                   "results/manifest.sha256"):
        assert (run_dir / target).stat().st_size > 0, target


def test_main_table_covers_every_run(run_dir):
    df = pd.read_csv(run_dir / "results/tables/main.csv", dtype={"sparsity": str})
    runs = set(zip(df["method"], df["sparsity"]))
    assert runs == {("dense", "0.00"), ("magnitude", "0.50"), ("wanda", "0.50"), ("sink_wanda", "0.50")}
    assert set(df["task"]) == {"mini_arc_challenge", "mini_piqa"}
    assert df["value"].between(0, 100).all() and (df["chance"] > 0).all()
    pruned = df[df["method"] != "dense"]
    assert pruned["achieved_sparsity"].between(0.45, 0.55).all()


def test_pruned_checkpoints_are_removed_after_their_evaluation(run_dir):
    assert (run_dir / "results/prune/tiny-llada/wanda/0.50/report.json").exists()
    assert not list((run_dir / "results/prune").glob("*/*/*/model")), "temp() checkpoints were kept"


def test_second_run_has_nothing_to_do(run_dir):
    out = snakemake(run_dir, "-n", "all")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_one_figure_reruns_only_what_it_needs(run_dir):
    out = snakemake(run_dir, "-n", "figures/sink_variance.pdf")
    assert "Nothing to be done" in out.stdout + out.stderr
    (run_dir / "figures/sink_variance.pdf").unlink()
    assert planned_rules(run_dir, "figures/sink_variance.pdf") == {"fig_sink_variance"}
    snakemake(run_dir, "figures/sink_variance.pdf")
    assert (run_dir / "figures/sink_variance.pdf").exists()


def test_verify_names_a_changed_file(run_dir):
    snakemake(run_dir, "verify")
    target = run_dir / "results/tables/main.csv"
    original = target.read_bytes()
    try:
        target.write_bytes(original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
        proc = snakemake(run_dir, "verify", check=False)
        assert proc.returncode != 0
        assert "results/tables/main.csv" in proc.stdout + proc.stderr
    finally:
        target.write_bytes(original)


def test_rerun_is_byte_identical(run_dir, tmp_path):
    """Delete every evaluation and table, rerun: pruning, evaluation and tables give the same bytes."""
    before = (run_dir / "results/tables/main.csv").read_bytes()
    shutil.rmtree(run_dir / "results/eval")
    (run_dir / "results/tables/main.csv").unlink()
    snakemake(run_dir, "results/tables/main.csv")
    assert (run_dir / "results/tables/main.csv").read_bytes() == before


def test_lint_is_clean(tmp_path):
    proc = snakemake(tmp_path, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _manifest_of_computed_results(workdir: Path) -> dict[str, str]:
    """Manifest lines of computed results: all but provenance.json (it records the git state at
    run time). The two runs live in different directories, so this also checks that no result
    depends on where the tree is."""
    lines = (workdir / "results/manifest.sha256").read_text().splitlines()
    pairs = (line.split("  ", 1) for line in lines)
    return {path: digest for digest, path in pairs if path != "results/provenance.json"}


def test_killed_run_resumes_with_same_checksums(run_dir, tmp_path):
    """Kill a run after training (kill -9 of Snakemake and its jobs, as a crashed node would),
    unlock, rerun: finished jobs are not redone and every result has the checksum of the
    uninterrupted run."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.Popen(SNAKEMAKE + ["-d", str(tmp_path), "all"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    marker = tmp_path / "results/models/tiny-llada/train_log.json"
    try:
        deadline = time.monotonic() + 600
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        assert marker.exists(), "training did not finish within 10 minutes"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert not (tmp_path / "results/manifest.sha256").exists(), "the run was not killed mid-way"
    snakemake(tmp_path, "--unlock")
    rerun = snakemake(tmp_path, "all")
    ran = {line.split()[-1].rstrip(":") for line in (rerun.stdout + rerun.stderr).splitlines()
           if line.startswith(("rule ", "localrule "))}
    assert not ran & {"corpus", "tokenizer", "streams"}, f"finished jobs were redone: {sorted(ran)}"
    assert "main_table" in ran and "manifest" in ran
    assert _manifest_of_computed_results(tmp_path) == _manifest_of_computed_results(run_dir)
