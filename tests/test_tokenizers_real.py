"""The paper checkpoints' tokenizers and the BOS rule, on the tiny hub cache (tests/hub_fixture.py).

Qwen2.5 has no BOS and must still calibrate, run sinks and evaluate; Dream's tokenizer is a
remote-code class and must load without running it; every family's BOS comes from one rule.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hub_fixture import snapshot

from sinkprune.data.streams import calibration_batch, text_stream
from sinkprune.data.tokenizer import load_tokenizer
from sinkprune.models import load_model
from sinkprune.models.special_tokens import bos_id

TEXT = "\n\n".join(f" the river {i} flows north of the city during the year {1900 + i} ." for i in range(60))


def _copy(hub: Path, repo_id: str, tmp_path: Path) -> Path:
    """A writable copy of a snapshot (links resolved)."""
    target = tmp_path / repo_id.replace("/", "--")
    shutil.copytree(snapshot(hub, repo_id), target)
    return target


def test_dream_tokenizer_loads_without_remote_code_and_encodes_as_its_bpe_files_say(offline_hub):
    directory = snapshot(offline_hub, "Dream-org/Dream-v0-Base-7B")
    assert not (directory / "tokenizer.json").exists()  # as Dream ships it: vocab.json + merges.txt
    assert "DreamTokenizer" in (directory / "tokenizer_config.json").read_text()
    # tokenization_dream.py raises when imported, so this also proves no remote code ran.
    tok = load_tokenizer(directory)
    vocab = json.loads((directory / "vocab.json").read_text())
    merges = (directory / "merges.txt").read_text().splitlines()[1:]
    # Byte-level BPE by the files: the longest merged " word" entry of vocab.json ("Ġ" is the
    # space byte) encodes as that one id, and every id of a text is a vocab.json entry.
    word = max((w for w in vocab if w.startswith("Ġ") and w[1:].isalpha()), key=len)
    assert len(word) > 3 and tok(" " + word[1:], add_special_tokens=False)["input_ids"] == [vocab[word]]
    ids = tok(" the river flows north", add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert all(vocab[p] == i for p, i in zip(pieces, ids)) and "".join(pieces) == "ĠtheĠriverĠflowsĠnorth"
    assert len(tok) == len(vocab) + 5 and len(merges) > 0
    # Special tokens of tokenizer_config.json, each one id, never split by the BPE.
    config = json.loads((directory / "tokenizer_config.json").read_text())
    added = {v["content"]: int(k) for k, v in config["added_tokens_decoder"].items()}
    assert tok("a<|mask|>b", add_special_tokens=False)["input_ids"][1] == added["<|mask|>"]
    assert (tok.mask_token, tok.eos_token_id) == ("<|mask|>", added["<|endoftext|>"])
    assert tok.decode(tok(" the river flows", add_special_tokens=False)["input_ids"]) == " the river flows"


def test_an_unknown_remote_code_tokenizer_is_a_clear_error(offline_hub, tmp_path):
    directory = _copy(offline_hub, "Dream-org/Dream-v0-Base-7B", tmp_path)
    config = json.loads((directory / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["tokenization_x.XTokenizer", None]}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="XTokenizer.*no trust_remote_code"):
        load_tokenizer(directory)


@pytest.mark.parametrize("repo_id, expected_source", [
    ("GSAI-ML/LLaDA-8B-Base", "generation_config.json bos_token_id"),
    ("GSAI-ML/LLaDA-1.5", "tokenizer bos_token '<|startoftext|>'"),  # generation_config.json names none
    ("Gen-Verse/MMaDA-8B-Base", "tokenizer bos_token '<|startoftext|>'"),  # no generation_config.json
    ("Dream-org/Dream-v0-Base-7B", "config.json bos_token_id"),
    ("Qwen/Qwen2.5-7B", "tokenizer_config.json bos_token null"),
])
def test_bos_rule_per_family(offline_hub, repo_id, expected_source):
    directory = snapshot(offline_hub, repo_id)
    bos = bos_id(directory)
    assert bos.source == expected_source
    tok = load_tokenizer(directory)
    if repo_id.startswith(("GSAI-ML", "Gen-Verse")):
        assert bos.id == tok.convert_tokens_to_ids("<|startoftext|>")  # LLaDA's 126080
    elif repo_id.startswith("Dream"):
        config = json.loads((directory / "config.json").read_text())
        assert bos.id == config["bos_token_id"] == tok.convert_tokens_to_ids("<|endoftext|>")
        assert tok.bos_token_id != bos.id  # the tokenizer's <|beginoftext|> is not what Dream reads
    else:
        assert bos.id is None and tok.bos_token_id is None
    # The model the sinks and evaluation stages load carries the same id.
    model = load_model(directory)
    assert (model.bos_id, model.bos_source) == (bos.id, bos.source)


def test_llada_without_any_bos_is_an_error_naming_the_files(offline_hub, tmp_path):
    directory = _copy(offline_hub, "GSAI-ML/LLaDA-1.5", tmp_path)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = directory / name
        if path.exists():
            data = json.loads(path.read_text())
            data.pop("bos_token", None)
            path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="generation_config.json.*config.json.*tokenizer_config.json"):
        bos_id(directory)


def test_generation_config_bos_wins_over_the_tokenizer_for_llada(offline_hub, tmp_path):
    directory = _copy(offline_hub, "GSAI-ML/LLaDA-1.5", tmp_path)
    (directory / "generation_config.json").write_text(json.dumps({"bos_token_id": 7, "eos_token_id": 1}))
    assert bos_id(directory).id == 7 and bos_id(directory).source == "generation_config.json bos_token_id"


def test_calibration_without_bos_is_plain_text_windows(offline_hub):
    directory = snapshot(offline_hub, "Qwen/Qwen2.5-7B")
    tok = load_tokenizer(directory)
    ids = calibration_batch(tok, TEXT, 3, 16, seed=0, bos_id=bos_id(directory).id)
    assert ids.shape == (3, 16)  # all 16 positions are text tokens: no BOS, no EOS put first
    assert not (ids == tok.eos_token_id).any()
    assert set(ids.flatten().tolist()) <= set(text_stream(tok, TEXT).tolist())


def test_ar_reference_without_bos_runs_sinks_and_evaluation(offline_hub):
    import yaml

    from sinkprune.evaluate.lm import SinkpruneLM
    from sinkprune.sinks.settings import SinkSettings
    from sinkprune.sinks.trajectory import build_trajectory

    directory = snapshot(offline_hub, "Qwen/Qwen2.5-7B")
    config = yaml.safe_load((Path(__file__).parent / "config" / "paper_tiny.yaml").read_text())
    model = load_model(directory)
    assert model.bos_id is None
    tok = load_tokenizer(directory)
    ids = calibration_batch(tok, TEXT, 2, 16, seed=0, bos_id=None)
    traj = build_trajectory(model, ids, "ar_prefix", SinkSettings.from_config(config))
    assert torch.isfinite(torch.as_tensor(traj.mass)).all()
    lm = SinkpruneLM(pretrained=str(directory), mc_num=1, batch_size=2)
    context, continuation = lm.tok_encode(" the river"), lm.tok_encode(" flows")
    sequence, ctx_len = lm._with_bos(context, continuation)
    assert sequence == context + continuation and ctx_len == len(context)  # nothing prepended
    assert lm.prefix_token_id == tok.eos_token_id
    (score, _), = lm._score([(context, continuation)])
    assert score < 0
