"""``protocol: released`` vs ``corrected`` on cases small enough to check by hand.

The released rules are those of VILA-Lab/Sink-Aware-Pruning (docs/deviations.md): ``int``
counts, the ``<=`` threshold, sink-aware Wanda without N:M, its noise draw order, its
calibration windows, Dream's t draw and pad masking.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import PreTrainedTokenizerFast

from sinkprune.data.streams import released_calibration_batch, text_rows
from sinkprune.models import build_model
from sinkprune.prune.methods import prune_model
from sinkprune.prune.protocol_diff import diff_rows
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import count_to_prune, layer_mask, nm_holds, parse_sparsity, row_mask, threshold_mask
from sinkprune.prune.stats import (compute_shared_stats, noisy_inputs, pad_keys, released_noisy_inputs,
                                   run_blocks)
from sinkprune.sinks.settings import SinkSettings

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]

# D_in 32 (attention, gate/up) and 64 (down): int and round differ at 0.70 only for 64.
ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "tie_embeddings": True}
SPECIAL = {"bos": 1, "eos": 2, "pad": 3, "mask": 4}
VOCAB, SEQ, N = 64, 24, 5
RELEASED = PruneSettings(protocol="released", blocksize=16)
CORRECTED = PruneSettings(protocol="corrected", blocksize=16)


# ----- counting and the threshold tie rule ------------------------------------------------------
def test_released_count_truncates_where_corrected_rounds() -> None:
    assert count_to_prune(128, 0.7, released=True) == 89 and count_to_prune(128, 0.7) == 90  # 89.6
    assert count_to_prune(100, 0.29, released=True) == 28 and count_to_prune(100, 0.29) == 29  # 28.999…
    assert count_to_prune(4096, 0.5, released=True) == count_to_prune(4096, 0.5) == 2048


def test_threshold_rule_prunes_one_more_than_it_names() -> None:
    scores = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    # released: sorted[int(8·0.5)] = sorted[4] = 5, then every score <= 5 goes: five weights
    assert torch.equal(layer_mask(scores, 0.5, released=True),
                       torch.tensor([[True, True, True, True], [True, False, False, False]]))
    assert torch.equal(layer_mask(scores, 0.5), torch.tensor([[True] * 4, [False] * 4]))
    assert not threshold_mask(scores, 0.0).any()  # the release does not prune at sparsity 0


def test_threshold_rule_takes_every_tie() -> None:
    scores = torch.tensor([[1.0, 2.0, 2.0, 2.0], [3.0, 3.0, 3.0, 3.0]])
    # sorted = 1 2 2 2 3 3 3 3; sorted[int(8·0.25)] = 2 → 1 and all three 2s: four weights
    assert torch.equal(layer_mask(scores, 0.25, released=True),
                       torch.tensor([[True, True, True, True], [False] * 4]))
    # corrected: exactly round(2) = 2, ties lost by the earlier position
    assert torch.equal(layer_mask(scores, 0.25), torch.tensor([[True, True, False, False], [False] * 4]))


def test_row_mask_counts() -> None:
    scores = torch.arange(10.0).repeat(2, 1)
    assert row_mask(scores, 0.75, released=True).sum(dim=1).tolist() == [7, 7]  # int(7.5)
    assert row_mask(scores, 0.75).sum(dim=1).tolist() == [8, 8]  # round(7.5) = 8 (half to even)


# ----- masks differ exactly where the rules say ---------------------------------------------------
@pytest.fixture(scope="module")
def llada():
    model = build_model("llada", ARCH, VOCAB, SEQ, SPECIAL, seed=0)
    ids = torch.randint(5, VOCAB, (N, SEQ), generator=torch.Generator().manual_seed(0))
    shared = {p: compute_shared_stats(model, ids, SinkSettings(), 0, protocol=p) for p in ("released", "corrected")}
    return model, ids, shared


def _masks(model, method, spec, ids, shared, settings) -> dict[str, torch.Tensor]:
    pruned = copy.deepcopy(model)
    prune_model(pruned, method, parse_sparsity(spec), ids, shared[settings.protocol], settings)
    return {f"{i}.{n}": m.weight == 0 for i in range(pruned.num_layers) for n, m in pruned.linear_modules(i).items()}


def test_magnitude_released_removes_one_more_weight_per_matrix(llada) -> None:
    model, ids, shared = llada
    for spec in ("0.25", "0.50", "0.70"):
        ratio = parse_sparsity(spec).ratio
        rel, cor = _masks(model, "magnitude", spec, ids, shared, RELEASED), _masks(model, "magnitude", spec, ids, shared, CORRECTED)
        for name in rel:
            n = rel[name].numel()
            assert int(rel[name].sum()) == int(n * ratio) + 1 and int(cor[name].sum()) == round(n * ratio), (spec, name)
            # one more per matrix where numel·ratio is whole (0.25, 0.50 here); at 0.70 the
            # released int(716.8) + 1 equals round(716.8) and the masks agree
            assert int(rel[name].sum()) - int(cor[name].sum()) == (1 if spec != "0.70" else 0), (spec, name)
            assert not (cor[name] & ~rel[name]).any(), (spec, name)


def test_wanda_agrees_at_half_and_differs_by_one_per_row_where_int_truncates(llada) -> None:
    model, ids, shared = llada
    rel, cor = _masks(model, "wanda", "0.50", ids, shared, RELEASED), _masks(model, "wanda", "0.50", ids, shared, CORRECTED)
    assert all(torch.equal(rel[n], cor[n]) for n in rel)
    rel, cor = _masks(model, "wanda", "0.70", ids, shared, RELEASED), _masks(model, "wanda", "0.70", ids, shared, CORRECTED)
    for name in rel:
        if name.endswith("down_proj"):  # D_in 64: int(44.8) = 44, round = 45
            assert rel[name].sum(dim=1).tolist() == [44] * 32 and cor[name].sum(dim=1).tolist() == [45] * 32
            if name.startswith("0."):
                assert not (rel[name] & ~cor[name]).any()
        else:  # D_in 32: int(22.4) = round(22.4) = 22
            assert (rel[name].sum(dim=1) == 22).all() and (cor[name].sum(dim=1) == 22).all()
            # block 0 sees the same inputs; block 1 sees block 0's outputs, whose down
            # projections kept one more weight per row under released
            assert torch.equal(rel[name], cor[name]) == name.startswith("0."), name


def test_sparsegpt_released_removes_one_more_weight_per_block(llada) -> None:
    model, ids, shared = llada
    for method in ("sparsegpt", "sink_sparsegpt"):
        rel = _masks(model, method, "0.50", ids, shared, RELEASED)
        cor = _masks(model, method, "0.50", ids, shared, CORRECTED)
        for name in rel:
            rows = rel[name].shape[0]
            per_block = lambda m: m.reshape(rows, -1, 16).sum(dim=(0, 2))  # noqa: E731
            assert (per_block(rel[name]) == count_to_prune(rows * 16, 0.5) + 1).all(), (method, name)
            assert (per_block(cor[name]) == count_to_prune(rows * 16, 0.5)).all(), (method, name)


def test_released_sink_wanda_ignores_nm(llada) -> None:
    model, ids, shared = llada
    rel = _masks(model, "sink_wanda", "2:4", ids, shared, RELEASED)
    cor = _masks(model, "sink_wanda", "2:4", ids, shared, CORRECTED)
    assert all(nm_holds(m.float() == 0, 2, 4) for m in cor.values())
    assert all((m.sum(dim=1) == m.shape[1] // 2).all() for m in rel.values())  # half of every row
    assert not all(nm_holds((~m).float(), 2, 4) for m in rel.values())


def test_protocol_diff_rows(llada) -> None:
    model, ids, _ = llada
    config = {"seed": 0, "protocol": "corrected", "sinks": {},
              "prune": {"methods": ["magnitude", "wanda", "structured", "sink_wanda_unstable"],
                        "sparsities": ["0.50", "2-4"], "structured_ratios": ["0.30"], "percdamp": 0.01,
                        "blocksize": 16}}
    rows = {(r["method"], r["sparsity"]): r for r in diff_rows(model, "tiny", ids, config)}
    matrices = 7 * ARCH["num_layers"]
    assert rows[("magnitude", "0.50")]["differing"] == matrices
    assert rows[("magnitude", "0.50")]["released_pruned"] == rows[("magnitude", "0.50")]["corrected_pruned"] + matrices
    assert rows[("magnitude", "2:4")]["differing"] == 0 and rows[("wanda", "0.50")]["differing"] == 0
    assert rows[("structured", "0.30")]["differing"] == 0
    assert rows[("structured", "0.30")]["entries"] == ARCH["intermediate_size"] * ARCH["num_layers"]
    assert rows[("sink_wanda_unstable", "2:4")]["differing"] > 0  # N:M ignored under released
    assert set(rows) == {(m, s) for m in ("magnitude", "wanda", "sink_wanda_unstable") for s in ("0.50", "2:4")} | {
        ("structured", "0.30")}


# ----- noise stream and draw order ----------------------------------------------------------------
def _stub(logit_shift: bool) -> SimpleNamespace:
    return SimpleNamespace(mask_id=9, logit_shift=logit_shift, device=torch.device("cpu"))


def test_noise_draw_order_released_sample_major_corrected_step_major() -> None:
    ids = torch.tensor([[5, 6, 7], [5, 6, 7]])
    sinks = SinkSettings(diffusion_steps=2, sample_every=1, mask_eps=1e-3)  # t = 0.5, 1.0
    stream = torch.rand(12, generator=torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(3)
    pieces = torch.cat([torch.rand(3, generator=generator) for _ in range(4)])
    assert torch.equal(stream, pieces), "precondition: short draws continue one stream"
    p = torch.tensor([(1 - 1e-3) * 0.5 + 1e-3, (1 - 1e-3) * 1.0 + 1e-3])
    # released: sample 0 step 0, sample 0 step 1, sample 1 step 0, sample 1 step 1 (3 draws each)
    draws = stream.reshape(2, 2, 3).transpose(0, 1)  # [step, sample, position]
    expected = torch.where(draws < p.reshape(2, 1, 1), 9, ids.unsqueeze(0))
    _, noisy = released_noisy_inputs(_stub(False), ids, sinks, seed=3)
    assert torch.equal(noisy, expected)
    # corrected: all of step 0 (both samples), then all of step 1
    draws = stream.reshape(2, 2, 3)
    expected = torch.where(draws < p.reshape(2, 1, 1), 9, ids.unsqueeze(0))
    _, noisy = noisy_inputs(_stub(False), ids, sinks, torch.Generator().manual_seed(3))
    assert torch.equal(noisy, expected)


def test_dream_released_draws_u0_first_and_keeps_ends() -> None:
    ids = torch.tensor([[5, 6, 7, 8]])
    sinks = SinkSettings(diffusion_steps=2, sample_every=1, mask_eps=1e-3)
    stream = torch.rand(10, generator=torch.Generator().manual_seed(1))  # per step: u0, then 4 draws
    expected = []
    for step in range(2):
        u0, draws = stream[5 * step], stream[5 * step + 1:5 * step + 5]
        masked = draws < (1 - 1e-3) * u0 + 1e-3  # t = (u0 + 0/1) mod 1, not the step grid
        masked[0] = masked[-1] = False
        expected.append(torch.where(masked, 9, ids[0]))
    _, noisy = released_noisy_inputs(_stub(True), ids, sinks, seed=1)
    assert torch.equal(noisy[:, 0], torch.stack(expected))


def test_released_dream_hides_pad_keys_from_attention() -> None:
    dream = build_model("dream", ARCH, VOCAB, SEQ, SPECIAL, seed=0)
    ids = torch.randint(5, VOCAB, (2, 8), generator=torch.Generator().manual_seed(0))
    ids[0, 5:] = SPECIAL["pad"]
    assert pad_keys(dream, ids, released=False) is None
    assert pad_keys(build_model("llada", ARCH, VOCAB, SEQ, SPECIAL, seed=0), ids, released=True) is None
    pads = pad_keys(dream, ids, released=True)
    assert pads is not None and pads[0, 5:].all() and not pads[1].any()
    with dream.observe_attention() as recorder:
        run_blocks(dream, ids, pads)
        hidden = recorder.mass
        run_blocks(dream, ids)
        seen = recorder.mass
    assert (hidden[0, 5:] == 0).all() and (hidden[0, :5] > 0).all() and (seen[0, 5:] > 0).all()
    torch.testing.assert_close(hidden[1], seen[1])


# ----- calibration windows ------------------------------------------------------------------------
def _word_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_released_calibration_windows_by_hand() -> None:
    words = "zero one two three four five six seven eight nine".split()
    tok = _word_tokenizer(words)
    rows = text_rows("zero one two\n\nthree four\nfive six seven eight nine\n")
    assert rows == ["zero one two\n", "\n", "three four\n", "five six seven eight nine\n"]
    # joined with single spaces, tokenised once: ids 1..10 in order, no BOS
    ids = list(range(1, 11))
    # released: random.seed(seed); per sample i = randint(0, 10 − 4 − 1); window ids[i:i + 4]
    random.seed(7)
    starts = [random.randint(0, 10 - 4 - 1) for _ in range(3)]
    expected = torch.tensor([ids[i:i + 4] for i in starts])
    assert torch.equal(released_calibration_batch(tok, rows, 3, 4, seed=7), expected)
    with pytest.raises(ValueError, match="too short"):
        released_calibration_batch(tok, rows, 3, 10, seed=7)


def test_protocol_key_is_checked() -> None:
    with pytest.raises(ValueError, match="protocol"):
        PruneSettings(protocol="paper")
    assert PruneSettings.from_config({"protocol": "released"}).released


# ----- command lines ------------------------------------------------------------------------------
def test_calibration_cli_follows_the_protocol(tmp_path) -> None:
    import yaml

    from sinkprune.data.__main__ import main as data_main

    words = [f"w{i}" for i in range(20)]
    _word_tokenizer(words).save_pretrained(tmp_path / "tok")
    heldout = tmp_path / "heldout.txt"
    heldout.write_text(" ".join(words[:3]) + "\n\n" + " ".join(words[3:]) + "\n")
    config = yaml.safe_load((ROOT / "tests" / "config" / "smoke.yaml").read_text())
    config["protocol"] = "released"
    config["data"]["calibration"] = {"n_samples": 3, "seq_len": 8}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    data_main(["calibration", "--config", str(tmp_path / "c.yaml"), "--tokenizer", str(tmp_path / "tok"),
               "--heldout", str(heldout), "--out", str(tmp_path / "calib.pt")])
    written = torch.load(tmp_path / "calib.pt")["input_ids"]
    random.seed(config["seed"])  # ids 1..20 in order; starts randint(0, 20 − 8 − 1)
    assert written.tolist() == [list(range(1, 21))[i:i + 8] for i in (random.randint(0, 11) for _ in range(3))]


def test_diff_cli_writes_one_row_per_method_and_sparsity(tmp_path) -> None:
    import pandas as pd
    import yaml

    from sinkprune.models import save_model
    from sinkprune.prune.__main__ import main as prune_main

    save_model(build_model("llada", ARCH, VOCAB, SEQ, SPECIAL, seed=0), tmp_path / "dense")
    ids = torch.randint(5, VOCAB, (3, SEQ), generator=torch.Generator().manual_seed(0))
    torch.save({"input_ids": ids}, tmp_path / "calib.pt")
    config = {"seed": 0, "protocol": "corrected", "threads": 1, "sinks": {},
              "prune": {"methods": ["magnitude", "wanda"], "sparsities": ["0.50", "2-4"], "percdamp": 0.01,
                        "blocksize": 16}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    prune_main(["diff", "--config", str(tmp_path / "c.yaml"), "--model", str(tmp_path / "dense"), "--name", "tiny",
                "--calib", str(tmp_path / "calib.pt"), "--out", str(tmp_path / "diff.csv")])
    table = pd.read_csv(tmp_path / "diff.csv", dtype={"sparsity": str})
    assert list(table.columns) == ["model", "method", "sparsity", "entries", "differing", "share_differing",
                                   "released_pruned", "corrected_pruned"]
    assert list(zip(table["method"], table["sparsity"])) == [("magnitude", "0.50"), ("magnitude", "2:4"),
                                                             ("wanda", "0.50"), ("wanda", "2:4")]
    assert table["differing"].tolist() == [7 * ARCH["num_layers"], 0, 0, 0]
