"""The tiny zoo pruned and evaluated in bfloat16 on the CPU, against float32.

Paper scale loads checkpoints in bfloat16 (config ``dtype``); statistics still accumulate in
float32. Pruning decisions should then barely move: bench/bf16_agreement.py prints the table
at the mini architecture (≥ 99.6 % for every method there). Here, smaller models: unstructured
methods must agree on ≥ 99 % of weights; structured methods decide on few MLP channels (2 layers
× 128 here), where one channel swapped at the threshold costs 0.4 %, so they must agree on ≥ 98 %.
"""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from sinkprune.models import build_model, load_model, save_model
from sinkprune.prune.agreement import agreement, pruning_decisions
from sinkprune.prune.methods import METHODS, STRUCTURED, dense_statistics, prune_model
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import compute_shared_stats

ARCH = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128, "tie_embeddings": True}
SETTINGS = PruneSettings()
THRESHOLD = {m: 0.98 if m in STRUCTURED else 0.99 for m in METHODS}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Untrained llada and dream checkpoints (float32 files) with a tokenizer, and calibration ids."""
    from sinkprune.data.skills import training_lines
    from sinkprune.data.tokenizer import special_ids, train_tokenizer

    torch.set_num_threads(2)
    tok = train_tokenizer(training_lines(300, 0), vocab_size=300, image_tokens=0)
    root = tmp_path_factory.mktemp("zoo")
    dirs = {}
    for family in ("llada", "dream"):
        model = build_model(family, ARCH, vocab_size=len(tok), max_seq_len=64, special_ids=special_ids(tok), seed=0)
        save_model(model, root / family)
        tok.save_pretrained(str(root / family))
        dirs[family] = root / family
    ids = torch.randint(10, len(tok), (8, 64), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = special_ids(tok)["bos"]
    return dirs, ids


@pytest.fixture(scope="module")
def decisions(zoo):
    dirs, ids = zoo
    return {(family, dtype): pruning_decisions(path, ids, SETTINGS, list(METHODS), "0.50", "0.30", dtype=dtype)
            for family, path in dirs.items() for dtype in (torch.float32, torch.bfloat16)}


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_bf16_pruning_agrees_with_fp32(decisions, family: str) -> None:
    table = {m: agreement(decisions[family, torch.float32][m], decisions[family, torch.bfloat16][m])
             for m in METHODS}
    print("\n" + "\n".join(f"{family} {m:16s} {100 * a:6.2f} %" for m, a in table.items()))
    low = {m: round(100 * a, 2) for m, a in table.items() if a < THRESHOLD[m]}
    assert not low, f"bf16 pruning decisions differ from fp32: {low}"
    # Not trivially equal: the two dtypes did run differently.
    assert any(a < 1.0 for a in table.values()), "bf16 and fp32 gave identical decisions for every method"


def test_bf16_model_prunes_saves_and_evaluates_in_bf16(zoo, tmp_path) -> None:
    """A bf16 run keeps bf16 weights, float32 statistics, writes a bf16 checkpoint, and scores close to fp32."""
    from lm_eval.api.instance import Instance

    from sinkprune.evaluate.lm import SinkpruneLM

    dirs, ids = zoo
    model = load_model(dirs["llada"], dtype=torch.bfloat16)
    shared = compute_shared_stats(model, ids, SETTINGS.sinks, seed=0)
    acc = dense_statistics(model, "sink_wanda", ids, shared)
    assert shared.scores.dtype == torch.float32 and all(a.dtype == torch.float32 for a in acc.values())
    prune_model(model, "sink_sparsegpt", parse_sparsity("0.50"), ids, shared, SETTINGS)
    assert model.dtype == torch.bfloat16
    assert model.backbone.model.rotary_emb.inv_freq.dtype == torch.float32, "RoPE frequencies stay float32"
    save_model(model, tmp_path / "pruned")
    with safe_open(str(tmp_path / "pruned" / "model.safetensors"), framework="pt") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.bfloat16}
    assert (tmp_path / "pruned" / "config.json").read_text().count('"torch_dtype": "bfloat16"') == 1

    requests = [Instance("loglikelihood", {}, pair, i)
                for i, pair in enumerate([("max of 4 9 2 is", " 9"), ("sort 5 2 8 :", " 2 5 8")])]
    scores = {}
    for dtype in ("bfloat16", "float32"):
        lm = SinkpruneLM(pretrained=str(tmp_path / "pruned"), mc_num=16, batch_size=16, dtype=dtype)
        assert lm.model.dtype == getattr(torch, dtype)
        scores[dtype] = [s for s, _ in lm.loglikelihood(requests)]
    for low, high in zip(scores["bfloat16"], scores["float32"]):
        assert low < 0 and abs(low - high) <= 0.02 * abs(high), scores


def test_untrained_control_is_built_in_the_config_dtype(zoo) -> None:
    from sinkprune.models.checkpoint import random_like

    dirs, _ = zoo
    fp32 = random_like(dirs["dream"], seed=3)
    bf16 = random_like(dirs["dream"], seed=3, dtype=torch.bfloat16)
    assert bf16.dtype == torch.bfloat16 and bf16.backbone.model.rotary_emb.inv_freq.dtype == torch.float32
    for (name, a), b in zip(fp32.state_dict().items(), bf16.state_dict().values()):
        assert torch.equal(a.to(torch.bfloat16), b), f"{name}: the bf16 control is the fp32 init, cast"


def test_prune_stage_reads_dtype_from_config(zoo, tmp_path) -> None:
    """``dtype: bfloat16`` in the config: the prune stage loads, prunes and saves in bf16."""
    import yaml

    from sinkprune.config import REPO_ROOT
    from sinkprune.prune.api import run_pruning

    dirs, ids = zoo
    config = yaml.safe_load((REPO_ROOT / "config" / "mini.yaml").read_text()) | {"dtype": "bfloat16"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    torch.save({"input_ids": ids}, tmp_path / "calib.pt")
    run_pruning(dirs["dream"], tmp_path / "calib.pt", tmp_path / "none.pt", "magnitude", ["0.50"],
                tmp_path / "c.yaml", [tmp_path / "pruned"], [tmp_path / "report.json"])
    with safe_open(str(tmp_path / "pruned" / "model.safetensors"), framework="pt") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.bfloat16}
    assert load_model(tmp_path / "pruned").dtype == torch.float32, "a bf16 checkpoint loads in any dtype"
