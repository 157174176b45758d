"""``python -m sinkprune.prune stats|run`` end to end on a tiny random checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from sinkprune.models import build_model, load_model, save_model
from sinkprune.prune.__main__ import main
from sinkprune.prune.methods import prune_model
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import SharedStats

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "tie_embeddings": True}
CONFIG = {"seed": 3, "threads": 1,
          "sinks": {"rule": "soft", "alpha": 5.0, "k": 2.0, "hard_eps": 0.0, "gate": "none", "tau": 0.9,
                    "diffusion_steps": 20, "sample_every": 5, "mask_eps": 1.0e-3},
          "prune": {"percdamp": 0.01, "blocksize": 32}}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("prune_cli")
    model = build_model("llada", ARCH, 64, 32, {"bos": 1, "eos": 2, "pad": 3, "mask": 4}, seed=0)
    save_model(model, root / "dense")
    (root / "dense" / "tokenizer_config.json").write_text('{"model_max_length": 32}\n')
    ids = torch.randint(5, 64, (4, 32), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 1
    torch.save({"input_ids": ids}, root / "calibration.pt")
    (root / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    result = subprocess.run(
        [sys.executable, "-m", "sinkprune.prune", "stats", "--model", str(root / "dense"),
         "--calib", str(root / "calibration.pt"), "--config", str(root / "config.yaml"),
         "--out", str(root / "shared.pt")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return root, ids


def _run(root: Path, method: str, sparsity: str) -> tuple[Path, dict]:
    out, report = root / method / sparsity / "model", root / method / sparsity / "report.json"
    timing = root / method / sparsity / "timing.json"
    main(["run", "--model", str(root / "dense"), "--calib", str(root / "calibration.pt"),
          "--shared", str(root / "shared.pt"), "--method", method, "--sparsity", sparsity,
          "--config", str(root / "config.yaml"), "--out", str(out), "--report", str(report),
          "--timing", str(timing)])
    assert json.loads(timing.read_text())["peak_rss_mb"] > 0
    return out, json.loads(report.read_text())


def test_run_several_sparsities_in_one_call(workspace, tmp_path) -> None:
    """One process prunes at several sparsities, each from the dense model, reports deterministic."""
    root, _ = workspace
    tags = ["0.25", "0.75"]
    outs = [tmp_path / t / "model" for t in tags]
    reports = [tmp_path / t / "report.json" for t in tags]
    main(["run", "--model", str(root / "dense"), "--calib", str(root / "calibration.pt"),
          "--shared", str(root / "shared.pt"), "--method", "wanda", "--sparsity", *tags,
          "--config", str(root / "config.yaml"), "--out", *map(str, outs), "--report", *map(str, reports)])
    first = [r.read_bytes() for r in reports]
    got = [json.loads(b)["overall_sparsity"] for b in first]
    assert got == pytest.approx([0.25, 0.75], abs=1e-9)
    main(["run", "--model", str(root / "dense"), "--calib", str(root / "calibration.pt"),
          "--shared", str(root / "shared.pt"), "--method", "wanda", "--sparsity", *tags,
          "--config", str(root / "config.yaml"), "--out", *map(str, outs), "--report", *map(str, reports)])
    assert [r.read_bytes() for r in reports] == first, "reports must be byte-identical on rerun"


def test_stats_file(workspace) -> None:
    root, ids = workspace
    shared = SharedStats.load(root / "shared.pt")
    assert shared.timesteps == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert shared.scores.shape == (4, *ids.shape)
    assert shared.meta["seed"] == 3 and shared.noisy.shape == shared.scores.shape


@pytest.mark.parametrize("method,sparsity", [("sink_wanda", "2-4"), ("sink_sparsegpt", "0.50"), ("wanda", "0.75")])
def test_run_unstructured(workspace, method: str, sparsity: str) -> None:
    root, ids = workspace
    out, report = _run(root, method, sparsity)
    spec = parse_sparsity(sparsity)
    assert report["sparsity"] == spec.tag and report["seed"] == 3
    assert report["overall_sparsity"] == pytest.approx(spec.ratio, abs=1e-9)
    assert all(s == pytest.approx(spec.ratio, abs=1e-9) for s in report["layer_sparsity"])
    assert report["hyperparameters"]["blocksize"] == 32
    assert report["parameters"] == report["dense_parameters"] > report["nonzero_parameters"]
    assert (out / "tokenizer_config.json").exists()
    # The saved model is the one the functions produce in memory.
    expected = load_model(root / "dense")
    shared = SharedStats.load(root / "shared.pt")
    prune_model(expected, method, spec, ids, shared, PruneSettings.from_config(CONFIG))
    torch.testing.assert_close(load_model(out)(ids), expected(ids), rtol=0, atol=0)


def test_run_structured(workspace) -> None:
    root, ids = workspace
    out, report = _run(root, "sink_structured", "0.30")
    assert report["intermediate_sizes"] == [45, 45]  # 64 − round(0.3·64)
    assert report["parameters"] < report["dense_parameters"]
    pruned = load_model(out)
    assert pruned.intermediate_sizes() == [45, 45]
    assert pruned(ids).shape == load_model(root / "dense")(ids).shape


def test_run_rejects_stale_shared_stats(workspace, tmp_path) -> None:
    root, _ = workspace
    other = dict(CONFIG, sinks=dict(CONFIG["sinks"], alpha=1.0))
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    with pytest.raises(ValueError, match="sink settings"):
        main(["run", "--model", str(root / "dense"), "--calib", str(root / "calibration.pt"),
              "--shared", str(root / "shared.pt"), "--method", "sink_wanda", "--sparsity", "0.50",
              "--config", str(tmp_path / "other.yaml"), "--out", str(tmp_path / "m"),
              "--report", str(tmp_path / "r.json")])


def test_all_writes_the_files_of_stats_run_and_diff(workspace, tmp_path) -> None:
    """`prune all` (one process per model) writes byte for byte what `stats`, `run` per method and
    `diff` write, the reports naming the same shared.pt path."""
    root, _ = workspace
    config = dict(CONFIG, protocol="corrected",
                  prune=dict(CONFIG["prune"], methods=["magnitude", "sink_wanda", "sink_structured"],
                             sparsities=["0.50", "2-4"], structured_ratios=["0.25"]))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    args = ["--model", str(root / "dense"), "--calib", str(root / "calibration.pt"), "--config", str(tmp_path / "c.yaml")]
    base = tmp_path / "steps"  # relative paths as the rules give them
    main(["stats", *args, "--out", f"{base}/shared.pt"])
    for method, specs in (("magnitude", ["0.50", "2-4"]), ("sink_wanda", ["0.50", "2-4"]), ("sink_structured", ["0.25"])):
        main(["run", *args, "--shared", f"{base}/shared.pt", "--method", method, "--sparsity", *specs,
              "--out", *(f"{base}/{method}/{s}/model" for s in specs),
              "--report", *(f"{base}/{method}/{s}/report.json" for s in specs)])
    main(["diff", *args, "--name", "m", "--out", f"{base}/protocol_diff.csv"])
    whole = tmp_path / "whole"
    main(["all", *args, "--name", "m", "--out-dir", str(whole), "--timing-dir", str(tmp_path / "timings")])
    step_files = sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file())
    assert step_files == sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert len(step_files) == 1 + 5 * 4 + 1  # shared.pt, 5 × (weights, config, tokenizer config, report), diff
    for rel in step_files:
        got, want = (whole / rel).read_bytes(), (base / rel).read_bytes()
        if rel.name == "report.json":  # the reports record their own shared.pt path
            want = want.replace(str(base).encode(), str(whole).encode())
        assert got == want, rel
    assert json.loads((tmp_path / "timings" / "sink_wanda" / "2-4.json").read_text())["sparsity"] == "2:4"
