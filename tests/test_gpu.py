"""GPU smoke test: one tiny model through prune, sinks and evaluation on cuda in bfloat16,
compared with the same run on the CPU in bfloat16. Skipped without CUDA.

    .venv/bin/python -m pytest -m gpu tests/test_gpu.py

Expected differences are those of bf16 arithmetic on two kinds of hardware: pruning decisions
agree on ≥ 99 % of weights (≥ 98 % of structured channels, see tests/test_bf16.py), attention
mass and log-likelihoods agree to a few percent; noise is drawn on the host, so the noised
inputs are identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

ARCH = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128, "tie_embeddings": True}
PLACEMENTS = {"cpu": (torch.device("cpu"), torch.bfloat16), "cuda": (torch.device("cuda"), torch.bfloat16)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An untrained LLaDA-family checkpoint with a tokenizer, and calibration ids."""
    from sinkprune.data.skills import training_lines
    from sinkprune.data.tokenizer import special_ids, train_tokenizer
    from sinkprune.models import build_model, save_model

    tok = train_tokenizer(training_lines(300, 0), vocab_size=300, image_tokens=0)
    root = tmp_path_factory.mktemp("gpu")
    model = build_model("llada", ARCH, vocab_size=len(tok), max_seq_len=64, special_ids=special_ids(tok), seed=0)
    save_model(model, root / "llada")
    tok.save_pretrained(str(root / "llada"))
    ids = torch.randint(10, len(tok), (8, 64), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = special_ids(tok)["bos"]
    return root, ids


def test_pruning_on_cuda_matches_cpu(tiny) -> None:
    from sinkprune.prune.agreement import agreement, pruning_decisions
    from sinkprune.prune.methods import METHODS, STRUCTURED
    from sinkprune.prune.settings import PruneSettings

    root, ids = tiny
    runs = {name: pruning_decisions(root / "llada", ids, PruneSettings(), list(METHODS), "0.50", "0.30",
                                    device=device, dtype=dtype)
            for name, (device, dtype) in PLACEMENTS.items()}
    table = {m: agreement(runs["cpu"][m], runs["cuda"][m]) for m in METHODS}
    print("\n" + "\n".join(f"cuda vs cpu (bf16) {m:16s} {100 * a:6.2f} %" for m, a in table.items()))
    low = {m: a for m, a in table.items() if a < (0.98 if m in STRUCTURED else 0.99)}
    assert not low, low


def test_prune_stage_on_cuda_writes_a_bf16_checkpoint(tiny, tmp_path) -> None:
    """The file-level entry points read device / dtype from the config."""
    from sinkprune.models import load_model
    from sinkprune.prune.api import run_pruning, run_stats

    root, ids = tiny
    mini = yaml.safe_load((Path(__file__).parents[1] / "config" / "mini.yaml").read_text())
    config = mini | {"device": "cuda", "dtype": "bfloat16"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    torch.save({"input_ids": ids}, tmp_path / "calib.pt")
    run_stats(root / "llada", tmp_path / "calib.pt", tmp_path / "c.yaml", tmp_path / "shared.pt")
    run_pruning(root / "llada", tmp_path / "calib.pt", tmp_path / "shared.pt", "sink_sparsegpt", ["0.50"],
                tmp_path / "c.yaml", [tmp_path / "pruned"], [tmp_path / "report.json"])
    with safe_open(str(tmp_path / "pruned" / "model.safetensors"), framework="pt") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.bfloat16}
    report = json.loads((tmp_path / "report.json").read_text())
    assert abs(report["overall_sparsity"] - 0.5) < 0.01
    assert load_model(tmp_path / "pruned").dtype == torch.float32  # loads anywhere, in any dtype


def test_sink_trajectory_on_cuda_matches_cpu(tiny) -> None:
    from sinkprune.models import load_model
    from sinkprune.sinks.settings import SinkSettings
    from sinkprune.sinks.trajectory import build_trajectory

    root, ids = tiny
    settings = SinkSettings(analysis_samples=4, prompt_len=8, gen_length=8, gen_steps=4, block_length=4)
    trajs = {name: build_trajectory(load_model(root / "llada", device=device, dtype=dtype), ids, "noised", settings)
             for name, (device, dtype) in PLACEMENTS.items()}
    assert np.array_equal(trajs["cpu"].ids, trajs["cuda"].ids), "noise is drawn on the host"
    assert np.allclose(trajs["cpu"].mass, trajs["cuda"].mass, rtol=0.05, atol=0.05)
    generated = build_trajectory(load_model(root / "llada", device="cuda", dtype=torch.bfloat16), ids,
                                 "generate", settings)
    assert generated.mass.shape[0] == settings.gen_steps


def test_evaluation_on_cuda_matches_cpu(tiny) -> None:
    from lm_eval.api.instance import Instance

    from sinkprune.evaluate.lm import SinkpruneLM

    root, _ = tiny
    requests = [Instance("loglikelihood", {}, pair, i)
                for i, pair in enumerate([("max of 4 9 2 is", " 9"), ("sort 5 2 8 :", " 2 5 8")])]
    scores = {}
    for name in PLACEMENTS:
        lm = SinkpruneLM(pretrained=str(root / "llada"), mc_num=16, batch_size=16, gen_length=8, steps=4,
                         block_length=4, device=name, dtype="bfloat16")
        assert lm.model.device.type == name
        scores[name] = [s for s, _ in lm.loglikelihood(requests)]
        (text,) = lm.generate_until([Instance("generate_until", {}, ("sort 5 2 8 :", {"until": ["\n"]}), 0)])
        assert isinstance(text, str)
    for cpu, cuda in zip(scores["cpu"], scores["cuda"]):
        assert abs(cpu - cuda) <= 0.02 * abs(cpu), scores
