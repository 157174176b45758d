"""The training mix of the mini zoo: variable-length steps (sinkprune.models.train)."""

from __future__ import annotations

import pytest
import torch

from sinkprune.data.skills import items
from sinkprune.data.streams import line_stream
from sinkprune.data.tokenizer import train_tokenizer
from sinkprune.models.train import TrainSettings, batch_of, step_length


def _settings(**kw) -> TrainSettings:
    base = dict(objective="mdm", steps=1, batch_size=8, lr=1e-3, warmup=0, text_fraction=0.0, seq_len=32, seed=0)
    return TrainSettings(**(base | kw))


def test_short_steps_draw_lengths_in_range_and_full_steps_otherwise():
    gen = torch.Generator().manual_seed(0)
    lengths = [step_length(_settings(short_fraction=0.5, min_len=8), gen) for _ in range(400)]
    assert min(lengths) >= 8 and max(lengths) == 32
    assert 0.35 < sum(n < 32 for n in lengths) / 400 < 0.65
    assert {step_length(_settings(), gen) for _ in range(20)} == {32}
    with pytest.raises(ValueError, match="min_len"):
        step_length(_settings(short_fraction=0.5, min_len=64), gen)


def test_a_short_batch_is_bos_first_and_starts_at_example_starts():
    lines = [it.line for it in items("add", 300, seed=1)]
    tok = train_tokenizer(lines, vocab_size=300, image_tokens=0)
    skills, starts = line_stream(tok, lines)
    streams = {"text": skills, "skills": skills, "skill_starts": starts}
    ids = batch_of(streams, _settings(), bos_id=0, generator=torch.Generator().manual_seed(0), seq_len=12)
    assert ids.shape == (8, 12) and (ids[:, 0] == 0).all()
    assert set(ids[:, 1].tolist()) <= set(skills[starts].tolist())
