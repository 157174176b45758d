"""The registered lm-eval model: likelihood maths, determinism, and ranking on a trained tiny model."""

import math

import pytest
import torch
import torch.nn.functional as F

from sinkprune.evaluate.likelihood import ar_loglikelihoods, dlm_loglikelihoods, dlm_rows, stratified_counts

ARCH = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 256, "tie_embeddings": True}
SPECIALS = {"bos": 0, "eos": 1, "pad": 2, "mask": 3}


def _model(family, vocab=40, seed=0):
    from sinkprune.models import build_model

    return build_model(family, ARCH, vocab_size=vocab, max_seq_len=32, special_ids=SPECIALS, seed=seed)


def test_stratified_counts_cover_range():
    gen = torch.Generator().manual_seed(0)
    for target in (1, 3, 7, 20):
        counts = stratified_counts(target, 8, gen)
        assert len(counts) == 8 and all(1 <= c <= target for c in counts)
    assert sorted(stratified_counts(8, 8, gen)) == list(range(1, 9)), "8 draws over 8 tokens hit every count once"


def test_enumeration_is_the_expectation_of_the_monte_carlo_estimate():
    """Exact enumeration (short answers) equals the mean of many LLaDA Monte Carlo draws."""
    torch.set_num_threads(1)
    model = _model("llada")
    seq = [0, 5, 9, 11, 7, 20, 21, 22]
    exact = dlm_loglikelihoods(model, [seq], [5], mc_num=7, batch_size=64, seed=0)[0]  # 2^3 − 1 = 7 subsets
    sampled = dlm_loglikelihoods(model, [seq], [5], mc_num=1024, batch_size=1024, seed=0,
                                 enumerate_small=False)[0]
    assert exact < 0
    assert abs(exact - sampled) < 0.03 * abs(exact), (exact, sampled)
    # One-token answers: the estimate is the exact masked log-probability.
    single = dlm_loglikelihoods(model, [seq[:6]], [5], mc_num=8, batch_size=8, seed=0)[0]
    noisy = torch.tensor([seq[:5] + [3]])
    direct = F.log_softmax(model.position_logits(noisy)[0, 5], -1)[seq[5]].item()
    assert single == pytest.approx(direct, abs=1e-5)
    weights = sum(r.weight * len(r.masked) for r in dlm_rows(0, 5, 3, 7, torch.Generator()))
    assert weights == pytest.approx(3.0), "Σ weight·|masked| = T: each token counted once in expectation"


def test_scores_do_not_depend_on_batching_or_companions():
    model = _model("llada")
    a, b = [0, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0, 8, 9, 10, 11, 12, 13]
    alone = dlm_loglikelihoods(model, [a], [3], mc_num=8, batch_size=3, seed=1)
    together = dlm_loglikelihoods(model, [b, a], [2, 3], mc_num=8, batch_size=64, seed=1)
    assert alone[0] == pytest.approx(together[1], abs=1e-9)


def test_ar_loglikelihood_is_exact_and_padding_free():
    model = _model("llama")
    seqs, ctx = [[0, 5, 6, 7, 8], [0, 9, 10]], [2, 1]
    got = ar_loglikelihoods(model, seqs, ctx, batch_size=2)
    for (score, _), seq, c in zip(got, seqs, ctx):
        logp = F.log_softmax(model(torch.tensor([seq])).double()[0], -1)
        want = sum(logp[p - 1, seq[p]].item() for p in range(c, len(seq)))
        assert score == pytest.approx(want, abs=1e-6)


# ----- a trained tiny model through the registered lm-eval model ------------------------------
@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A tiny LLaDA-family model trained ~20 s on the category facts, saved with its tokenizer."""
    from sinkprune.data.skills import items
    from sinkprune.data.streams import build_streams
    from sinkprune.data.tokenizer import special_ids, train_tokenizer
    from sinkprune.models import build_model, save_model
    from sinkprune.models.train import TrainSettings, train

    torch.set_num_threads(1)
    examples = items("fact", 3000, seed=11)
    tok = train_tokenizer([it.line for it in examples], vocab_size=400, image_tokens=0)  # whole words: 1 token
    streams = build_streams(tok, "filler text for the text stream. " * 200, examples)
    model = build_model("llada", ARCH, vocab_size=len(tok), max_seq_len=64, special_ids=special_ids(tok), seed=0)
    settings = TrainSettings(objective="mdm", steps=300, batch_size=32, lr=2e-3, warmup=20,
                             text_fraction=0.0, seq_len=48, seed=0)
    root = tmp_path_factory.mktemp("model")
    save_model(model, root / "untrained")
    tok.save_pretrained(str(root / "untrained"))
    train(model, streams, settings)
    save_model(model, root / "trained")
    tok.save_pretrained(str(root / "trained"))
    return root


def _instances(pairs):
    from lm_eval.api.instance import Instance

    return [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]


def _wins(model_dir, test):
    from lm_eval.api.registry import get_model

    import sinkprune.evaluate.lm  # noqa: F401  (registers "sinkprune")

    lm = get_model("sinkprune").create_from_arg_string(f"pretrained={model_dir},mc_num=8,batch_size=64,seed=0")
    # Corrupted answer: a word of the prompt in the category's slot ("fox is a kind of is").
    pairs = [(it.prompt, it.answer) for it in test] + [(it.prompt, " is") for it in test]
    scores = [s for s, _ in lm.loglikelihood(_instances(pairs))]
    assert [s for s, _ in lm.loglikelihood(_instances(pairs))] == scores, "scores must be deterministic"
    assert all(math.isfinite(s) and s < 0 for s in scores)
    return sum(scores[i] > scores[i + len(test)] for i in range(len(test)))


def test_registered_model_ranks_correct_answer_first(trained_dir):
    """Through lm-eval's registry: a trained DLM prefers the right answer; its initialisation does not."""
    from sinkprune.data.skills import items

    test = items("fact", 40, seed="heldout")
    trained, untrained = _wins(trained_dir / "trained", test), _wins(trained_dir / "untrained", test)
    print(f"trained {trained}/{len(test)}, untrained {untrained}/{len(test)}")
    assert trained >= 0.9 * len(test), f"trained model preferred the right answer in only {trained}/{len(test)}"
    assert untrained <= 0.75 * len(test), f"untrained model already won {untrained}/{len(test)}: test too easy"


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """Untrained tiny AR and LLaDA checkpoints with a real tokenizer (shapes, not skill)."""
    from sinkprune.data.skills import training_lines
    from sinkprune.data.tokenizer import special_ids, train_tokenizer
    from sinkprune.models import build_model, save_model

    tok = train_tokenizer(training_lines(500, 0), vocab_size=300, image_tokens=0)
    root = tmp_path_factory.mktemp("tiny")
    for family in ("llama", "llada"):
        model = build_model(family, ARCH, vocab_size=len(tok), max_seq_len=64, special_ids=special_ids(tok), seed=0)
        save_model(model, root / family)
        tok.save_pretrained(str(root / family))
    return root


def _lm(path, **kw):
    from sinkprune.evaluate.lm import SinkpruneLM

    return SinkpruneLM(pretrained=str(path), **kw)


def test_rolling_loglikelihood_of_ar_model_is_the_sum_of_token_logprobs(tiny_dirs):
    from lm_eval.api.instance import Instance

    lm = _lm(tiny_dirs / "llama")
    text = "sort 5 2 8 1 : 1 2 5 8"
    (score,) = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)])
    ids = [lm.model.bos_id] + lm.tok_encode(text)
    logp = F.log_softmax(lm.model(torch.tensor([ids])).double()[0], -1)
    assert score == pytest.approx(sum(logp[p - 1, ids[p]].item() for p in range(1, len(ids))), abs=1e-6)
    # Longer than the context window: every token still scored once, in several windows.
    long = " ".join(["max of 47 12 85 30 is 85"] * 12)
    (long_score,) = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (long,), 0)])
    assert len(lm.tok_encode(long)) > lm.max_length and math.isfinite(long_score) and long_score < score


def test_generate_until_uses_family_sampler_and_stops(tiny_dirs):
    from lm_eval.api.instance import Instance

    lm = _lm(tiny_dirs / "llada", gen_length=8, steps=8, block_length=8)
    reqs = [Instance("generate_until", {}, (p, {"until": ["\n", "2"]}), i)
            for i, p in enumerate(["12+35=", "ann has 23, gets 5 more, now has", "12+36="])]
    out = lm.generate_until(reqs)
    assert len(out) == 3 and all(isinstance(o, str) and "\n" not in o and "2" not in o for o in out)
    assert lm.generate_until(reqs) == out, "greedy generation must be deterministic"
