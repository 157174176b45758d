"""Trajectories on tiny random models: noising rules, mass bookkeeping, files, and the CLI end to end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from sinkprune.models import build_model, save_model
from sinkprune.models.noising import sampled_timesteps
from sinkprune.sinks.__main__ import main as sinks_main
from sinkprune.sinks.kinds import BOS, MASK
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.store import load_trajectory, parse_trajectory_path, save_trajectory
from sinkprune.sinks.trajectory import build_trajectory, prefix_lengths

torch.set_num_threads(1)

ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 48, "tie_embeddings": True}
VOCAB, MAX_LEN = 48, 40
IDS = {"bos": 0, "eos": 1, "pad": 2, "mask": 3}
SETTINGS = SinkSettings(diffusion_steps=10, sample_every=2, analysis_samples=5, prompt_len=4, gen_length=8,
                        gen_steps=4, block_length=4, bootstrap=50)


def tiny(family: str, seed: int = 0):
    return build_model(family, ARCH, VOCAB, MAX_LEN, IDS, seed)


def calibration(n: int = 6, length: int = 20) -> torch.Tensor:
    ids = torch.randint(4, VOCAB, (n, length), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = IDS["bos"]
    return ids


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_noised_trajectory_masks_by_the_family_rules(family):
    traj = build_trajectory(tiny(family), calibration(), "noised", SETTINGS)
    t, n, layers, heads, s = traj.mass.shape
    assert (t, n, layers, heads, s) == (5, 5, 2, 2, 20)
    np.testing.assert_allclose(traj.times, sampled_timesteps(10, 2))
    assert (traj.ids[:, :, 0] == IDS["bos"]).all() and (traj.kinds[:, :, 0] == BOS).all()
    last_masked = (traj.ids[:, :, -1] == IDS["mask"]).any()
    assert last_masked == (family == "llada")  # Dream never masks its last position
    # The share of masked tokens grows with t (t = 1 masks every unprotected token).
    masked = (traj.kinds == MASK).mean(axis=(1, 2))
    assert masked[-1] == pytest.approx((s - 1 - (family == "dream")) / s) and masked[0] < masked[-1]
    # Every query's attention sums to one: each layer/head's received mass sums to S queries.
    np.testing.assert_allclose(traj.mass.sum(axis=-1), s, rtol=1e-5)


def test_ar_prefix_trajectory_grows_and_pads():
    traj = build_trajectory(tiny("llama"), calibration(), "ar_prefix", SETTINGS)
    lengths = prefix_lengths(20, SETTINGS)
    assert traj.lengths.tolist() == lengths == [4, 8, 12, 16, 20]
    for t, length in enumerate(lengths):
        np.testing.assert_allclose(traj.mass[t, ..., :length].sum(axis=-1), length, rtol=1e-5)
        assert (traj.mass[t, ..., length:] == 0).all() and (traj.ids[t, :, length:] == -1).all()
    with pytest.raises(ValueError, match="bidirectional"):
        build_trajectory(tiny("llada"), calibration(), "ar_prefix", SETTINGS)
    with pytest.raises(ValueError, match="no mask token"):
        build_trajectory(tiny("llama"), calibration(), "noised", SETTINGS)


def test_generate_trajectory_records_every_step():
    traj = build_trajectory(tiny("llada"), calibration(), "generate", SETTINGS)
    assert traj.mass.shape[0] == SETTINGS.gen_steps and traj.seq_len == 12
    masks = (traj.kinds == MASK).sum(axis=(1, 2))
    assert masks[0] == 5 * 8 and (np.diff(masks) < 0).all()  # starts fully masked, commits every step
    ar = build_trajectory(tiny("llama"), calibration(), "generate", SETTINGS)
    assert ar.lengths.tolist() == list(range(4, 12))


def test_trajectory_file_roundtrip_is_byte_identical(tmp_path):
    traj = build_trajectory(tiny("dream"), calibration(), "noised", SETTINGS)
    a = save_trajectory(traj, tmp_path / "m" / "trained" / "noised.npz")
    again = build_trajectory(tiny("dream"), calibration(), "noised", SETTINGS)
    b = save_trajectory(again, tmp_path / "copy.npz")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    loaded = load_trajectory(a)
    np.testing.assert_array_equal(loaded.mass, traj.mass)
    assert loaded.meta["family"] == "dream" and parse_trajectory_path(a) == ("m", "trained", "noised")
    with pytest.raises(ValueError, match="trajectory kind"):
        parse_trajectory_path(tmp_path / "m" / "trained" / "other.npz")


def test_cli_trajectory_and_summarize(tmp_path, capsys):
    root = tmp_path
    for name, family in (("tiny-ar", "llama"), ("tiny-llada", "llada")):
        for state, seed in (("trained", 1), ("untrained", 0)):
            save_model(tiny(family, seed), root / "models" / name / state)
    torch.save({"input_ids": calibration()}, root / "calibration.pt")
    config = yaml.safe_load(Path(__file__).with_name("config").joinpath("smoke.yaml").read_text())
    config["sinks"].update({"analysis_samples": 4, "bootstrap": 30})
    config["sinks"]["generate"] = {"prompt_len": 4, "gen_length": 8, "steps": 4, "block_length": 8}
    (root / "c.yaml").write_text(yaml.safe_dump(config))
    outputs = []
    for name, kinds in (("tiny-ar", ["ar_prefix"]), ("tiny-llada", ["noised", "generate"])):
        for state in ("trained", "untrained"):
            for kind in kinds:
                out = root / "sinks" / name / state / f"{kind}.npz"
                sinks_main(["trajectory", "--model", str(root / "models" / name / state), "--calib",
                            str(root / "calibration.pt"), "--config", str(root / "c.yaml"), "--kind", kind,
                            "--out", str(out)])
                outputs.append(str(out))
    args = ["summarize", "--config", str(root / "c.yaml"), "--inputs", *outputs, "--table", str(root / "t.csv"),
            "--tex", str(root / "t.tex"), "--claim", str(root / "claim.json")]
    sinks_main(args)
    table = pd.read_csv(root / "t.csv")
    assert set(table["state"]) == {"trained", "untrained", "random"}
    assert set(table["scope"]) == {"all", "layer0", "layer1"}
    claim = json.loads((root / "claim.json").read_text())
    assert [c["ar_model"] for c in claim["summary"]["tiny-llada"]] == ["tiny-ar"]
    assert {c["dlm_trajectory"] for c in claim["comparisons"]} == {"noised", "generate"}
    first = (root / "t.csv").read_bytes(), (root / "claim.json").read_bytes()
    sinks_main(args)  # same inputs, same seed → byte-identical outputs
    assert ((root / "t.csv").read_bytes(), (root / "claim.json").read_bytes()) == first
    assert "claim tiny-llada vs tiny-ar" in capsys.readouterr().out


def test_cli_several_kinds_in_one_process_equal_one_kind_each(tmp_path):
    """`--kind noised generate --out A B` writes the bytes two single-kind calls write."""
    save_model(tiny("llada", 1), tmp_path / "m")
    torch.save({"input_ids": calibration()}, tmp_path / "calibration.pt")
    config = yaml.safe_load(Path(__file__).with_name("config").joinpath("smoke.yaml").read_text())
    config["sinks"].update({"analysis_samples": 4})
    config["sinks"]["generate"] = {"prompt_len": 4, "gen_length": 8, "steps": 4, "block_length": 8}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    common = ["trajectory", "--model", str(tmp_path / "m"), "--calib", str(tmp_path / "calibration.pt"),
              "--config", str(tmp_path / "c.yaml")]
    kinds = ["noised", "generate"]
    for kind in kinds:
        sinks_main([*common, "--kind", kind, "--out", str(tmp_path / "one" / f"{kind}.npz")])
    sinks_main([*common, "--kind", *kinds, "--out", *(str(tmp_path / "both" / f"{k}.npz") for k in kinds)])
    for kind in kinds:
        assert (tmp_path / "both" / f"{kind}.npz").read_bytes() == (tmp_path / "one" / f"{kind}.npz").read_bytes()
    with pytest.raises(SystemExit):
        sinks_main([*common, "--kind", *kinds, "--out", str(tmp_path / "x.npz")])  # one --out per --kind
    # Two models in one process: outputs model by model, each as a process of its own writes.
    save_model(tiny("llada", 2), tmp_path / "m2")
    sinks_main([*common, "--model", str(tmp_path / "m2"), "--kind", *kinds, "--out",
                *(str(tmp_path / "two" / f"{m}-{k}.npz") for m in ("m", "m2") for k in kinds)])
    sinks_main(["trajectory", "--model", str(tmp_path / "m2"), "--calib", str(tmp_path / "calibration.pt"),
                "--config", str(tmp_path / "c.yaml"), "--kind", "noised", "--out", str(tmp_path / "m2.npz")])
    assert (tmp_path / "two" / "m-noised.npz").read_bytes() == (tmp_path / "one" / "noised.npz").read_bytes()
    assert (tmp_path / "two" / "m2-noised.npz").read_bytes() == (tmp_path / "m2.npz").read_bytes()
    assert (tmp_path / "m2.npz").read_bytes() != (tmp_path / "one" / "noised.npz").read_bytes()
