"""The training mix of the mini zoo: variable-length steps (sinkprune.models.train)."""

from __future__ import annotations

import pytest
import torch

from sinkprune.data.skills import items
from sinkprune.data.streams import line_stream, skill_stream
from sinkprune.data.tokenizer import train_tokenizer
from sinkprune.models.train import TrainSettings, batch_of, mdm_loss, step_length


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
    ids, maskable = batch_of(streams, _settings(), bos_id=0, generator=torch.Generator().manual_seed(0), seq_len=12)
    assert ids.shape == (8, 12) and (ids[:, 0] == 0).all()
    assert set(ids[:, 1].tolist()) <= set(skills[starts].tolist())
    assert not maskable[:, 0].any() and maskable[:, 1:].all()


def _story_streams():
    examples = items("story", 300, seed=1)
    tok = train_tokenizer([it.line for it in examples], vocab_size=300, image_tokens=0)
    skills, starts, answers = skill_stream(tok, examples)
    return tok, examples, {"text": skills, "skills": skills, "skill_starts": starts, "skill_answers": answers}


def test_answer_flags_mark_exactly_each_examples_answer_and_its_line_end():
    tok, examples, streams = _story_streams()
    starts, answers = streams["skill_starts"].tolist(), streams["skill_answers"]
    for i in (0, 1, 150):
        line = streams["skills"][starts[i]:starts[i + 1]]
        flagged = line[answers[starts[i]:starts[i + 1]]]
        assert tok.decode(flagged) == examples[i].answer + "\n", (tok.decode(line), tok.decode(flagged))


def test_sft_rows_mask_only_answers_and_the_loss_sees_only_them():
    tok, _, streams = _story_streams()
    settings = _settings(sft_fraction=0.5, text_fraction=0.25)  # 2 text rows, 6 skill rows: 3 SFT
    ids, maskable = batch_of(streams, settings, bos_id=0, generator=torch.Generator().manual_seed(0))
    assert maskable[:2, 1:].all() and maskable[5:, 1:].all()  # text rows and plain skill rows
    sft = maskable[2:5]
    assert sft.any() and (sft.sum(1) < 12).all()  # a story response is 2–3 tokens per ~12-token line
    answer_ids = set(streams["skills"][streams["skill_answers"]].tolist())
    assert set(ids[2:5][sft].tolist()) <= answer_ids

    class Recorder(torch.nn.Module):  # keeps the noised input mdm_loss feeds it
        mask_id, logit_shift = 299, 0

        def position_logits(self, noisy):
            self.noisy = noisy
            return torch.zeros(*noisy.shape, 300)

    model = Recorder()
    masked = torch.zeros_like(maskable)
    for seed in range(20):
        mdm_loss(model, ids, torch.Generator().manual_seed(seed), 1e-3, maskable)
        masked |= model.noisy == model.mask_id
    assert masked[2:5].any() and not (masked & ~maskable).any()
    assert masked[5:, 1:].float().mean() > 0.3  # plain rows: any token may be masked


def test_sft_rows_need_the_mdm_objective_and_answer_flags():
    with pytest.raises(ValueError, match="sft_fraction"):
        _settings(objective="ar", sft_fraction=0.5)
    _, _, streams = _story_streams()
    del streams["skill_answers"]
    with pytest.raises(ValueError, match="rerun the data stage"):
        batch_of(streams, _settings(sft_fraction=0.5), bos_id=0, generator=torch.Generator().manual_seed(0))


def test_on_log_sees_every_log_entry_and_leaves_training_unchanged():
    from sinkprune.data.tokenizer import special_ids
    from sinkprune.models import build_model
    from sinkprune.models.train import train

    tok, _, streams = _story_streams()
    arch = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64, "tie_embeddings": True}
    settings = _settings(steps=5, sft_fraction=0.5)
    models = [build_model("llada", arch, vocab_size=len(tok), max_seq_len=32, special_ids=special_ids(tok), seed=0)
              for _ in "ab"]
    seen = []
    logs = [train(models[0], streams, settings, log_every=2),
            train(models[1], streams, settings, log_every=2, on_log=seen.append)]
    assert logs[0] == logs[1] == seen and [e["step"] for e in seen] == [2, 4, 5]
    assert all(torch.equal(a, b) for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()))
