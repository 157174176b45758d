"""Data stage: corpus split, tokenizer specials, deterministic windows and calibration."""

import torch

from sinkprune.data.corpus import build_corpus, docstrings
from sinkprune.data.streams import calibration_batch, line_stream, sample_windows, text_stream, with_bos
from sinkprune.data.tokenizer import BOS, MASK, train_tokenizer

TEXT = "\n\n".join(f"Return the value of item {i} from the mapping, or raise KeyError." for i in range(200))
LINES = [f"{a}+{b}={a + b}" for a in range(20) for b in range(20)]


def _tokenizer():
    return train_tokenizer([TEXT] + LINES, vocab_size=400, image_tokens=4)


def test_docstrings_are_extracted(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('"""Module docstring that is long enough to keep as corpus text."""\n'
                   'def f():\n    """Short."""\n')
    assert docstrings(src) == ["Module docstring that is long enough to keep as corpus text."]


def test_corpus_split_is_disjoint_and_deterministic():
    train, heldout, prov = build_corpus(300_000, 0.1)
    again = build_corpus(300_000, 0.1)
    assert (train, heldout) == again[:2]
    assert prov["train_sha256"] != prov["heldout_sha256"]
    assert len(heldout) < len(train)
    paragraphs = set(p for p in train.split("\n\n") if len(p) > 200)
    assert not any(p in paragraphs for p in heldout.split("\n\n") if len(p) > 200)


def test_tokenizer_specials_and_digits():
    tok = _tokenizer()
    assert tok.bos_token == BOS and tok.mask_token == MASK
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.mask_token_id) == (0, 1, 2, 3)
    ids = tok("12+7=19", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids)[:2] == ["1", "2"], "digits must be split one per token"
    assert tok.decode(ids) == "12+7=19"


def test_windows_start_at_line_starts_and_bos_first():
    tok = _tokenizer()
    stream, starts = line_stream(tok, LINES)
    windows = sample_windows(stream, starts, 8, 6, torch.Generator().manual_seed(0))
    first_tokens = set(stream[starts].tolist())
    assert all(w[0].item() in first_tokens for w in windows)
    batch = with_bos(windows, tok.bos_token_id)
    assert batch.shape == (8, 7) and (batch[:, 0] == tok.bos_token_id).all()


def test_calibration_is_deterministic():
    tok = _tokenizer()
    a = calibration_batch(tok, TEXT, 4, 16, seed=3)
    b = calibration_batch(tok, TEXT, 4, 16, seed=3)
    c = calibration_batch(tok, TEXT, 4, 16, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (4, 16) and (a[:, 0] == tok.bos_token_id).all()
    assert text_stream(tok, TEXT).numel() > 16
