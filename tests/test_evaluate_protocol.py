"""Released vs corrected evaluation: masked-count laws, CFG, perplexity, BOS/EOS/[MASK] rules."""

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from sinkprune.evaluate.likelihood import (counts_from_start, dlm_loglikelihoods, dlm_rows, masked_count_distribution,
                                           released_counts, request_generator, stratified_counts)
from sinkprune.evaluate.perplexity import PerplexitySettings, perplexity, release_text, windows

ARCH = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 256, "tie_embeddings": True}
SPECIALS = {"bos": 0, "eos": 1, "pad": 2, "mask": 3}


def _model(family, vocab=40, seed=0):
    from sinkprune.models import build_model

    torch.set_num_threads(1)
    return build_model(family, ARCH, vocab_size=vocab, max_seq_len=32, special_ids=SPECIALS, seed=seed).eval()


# ----- masked-count laws ---------------------------------------------------------------------
def test_released_count_law_by_hand():
    """T = 4, strata of 8: x = round(k + i/2) wraps to 1..4; half-to-even rounding favours 2 and 4."""
    assert counts_from_start(1, 4, 8) == [1, 2, 2, 2, 3, 4, 4, 4]  # 1, 1.5→2, 2, 2.5→2, 3, 3.5→4, 4, 4.5→4
    law = masked_count_distribution(4, 128, "released", stratum=8)
    assert law == {1: Fraction(1, 8), 2: Fraction(3, 8), 3: Fraction(1, 8), 4: Fraction(3, 8)}
    # A stratum that divides T gives the uniform law.
    assert masked_count_distribution(8, 128, "released", stratum=8) == {x: Fraction(1, 8) for x in range(1, 9)}
    # Corrected with enumeration (2^T − 1 ≤ mc_num): uniform.
    assert masked_count_distribution(4, 128, "corrected") == {x: Fraction(1, 4) for x in range(1, 5)}


@pytest.mark.parametrize("target_len,mc_num,protocol,stratum", [(4, 64, "released", 8), (5, 16, "released", 8),
                                                                 (10, 128, "corrected", None), (3, 1, "released", 1)])
def test_sampled_counts_follow_the_enumerated_law(target_len, mc_num, protocol, stratum):
    """Empirical frequencies of the estimator's draws against the law enumerated over k."""
    law = masked_count_distribution(target_len, mc_num, protocol, stratum, enumerate_small=False)
    assert sum(law.values()) == 1
    gen = torch.Generator().manual_seed(0)
    counts: Counter = Counter()
    n_requests = 4000
    for _ in range(n_requests):
        draw = (released_counts(target_len, mc_num, stratum, gen) if protocol == "released"
                else stratified_counts(target_len, mc_num, gen))
        counts.update(draw)
    total = sum(counts.values())
    for x in range(1, target_len + 1):
        p = float(law.get(x, 0))
        # Each request contributes mc_num correlated draws; bound with the number of strata drawn.
        strata = n_requests * (mc_num // (stratum or mc_num))
        assert abs(counts[x] / total - p) < 4 * math.sqrt(p * (1 - p) / strata) + 1e-9, (x, counts[x] / total, p)


def test_enumerated_rows_have_the_uniform_law_and_released_rows_are_sampled():
    rows = dlm_rows(0, 2, 4, 15, torch.Generator())  # 2^4 − 1 = 15: enumerated
    law = Counter()
    for r in rows:
        law[len(r.masked)] += r.weight * len(r.masked) / 4  # weight = P(row)·T/x
    assert all(law[x] == pytest.approx(0.25) for x in range(1, 5))
    released = dlm_rows(0, 2, 4, 16, torch.Generator().manual_seed(1), stratum=8)
    assert len(released) == 16 and all(r.weight == pytest.approx((4 / len(r.masked)) / 16) for r in released)
    with pytest.raises(ValueError, match="multiple of the stratum"):
        released_counts(4, 12, 8, torch.Generator())


def _exact_expectation(model, seq, ctx_len, law):
    """Σ_x P(x) · mean over subsets of size x of Σ CE / (x/T) — the estimator's exact expectation."""
    target = len(seq) - ctx_len
    total = 0.0
    for x, p in law.items():
        subsets = list(itertools.combinations(range(ctx_len, len(seq)), x))
        vals = []
        for sub in subsets:
            noisy = torch.tensor([seq])
            noisy[0, list(sub)] = model.mask_id
            logp = F.log_softmax(model.position_logits(noisy)[0].double(), -1)
            vals.append(-sum(logp[i, seq[i]].item() for i in sub) / (x / target))
        total += float(p) * sum(vals) / len(vals)
    return -total


def test_released_estimator_converges_to_its_own_expectation_not_the_corrected_one():
    model = _model("llada", seed=3)
    seq, ctx = [0, 5, 9, 11, 7, 20, 21, 22, 30], 5  # T = 4: counts not uniform under the release
    released_law = masked_count_distribution(4, 8, "released", stratum=8)
    exact_released = _exact_expectation(model, seq, ctx, released_law)
    exact_corrected = _exact_expectation(model, seq, ctx, {x: Fraction(1, 4) for x in range(1, 5)})
    corrected = dlm_loglikelihoods(model, [seq], [ctx], mc_num=15, batch_size=64, seed=0)[0]
    assert corrected == pytest.approx(exact_corrected, abs=1e-5), "enumeration is the uniform-law expectation"
    sampled = dlm_loglikelihoods(model, [seq], [ctx], mc_num=4096, batch_size=8, seed=0, protocol="released")[0]
    gap = abs(exact_released - exact_corrected)
    print(f"released {exact_released:.4f}, corrected {exact_corrected:.4f}, sampled {sampled:.4f}")
    assert gap > 0.01, "the two laws should give different expectations on this model"
    assert abs(sampled - exact_released) < 0.25 * gap


# ----- classifier-free guidance --------------------------------------------------------------
@pytest.mark.parametrize("family", ["llada", "dream"])
def test_cfg_loglikelihood_equals_direct_computation(family):
    """T = 2, enumerated: three masked subsets, each scored with LLaDA's guided logits by hand."""
    model = _model(family, seed=1)
    seq, ctx, w = [0, 7, 8, 9, 12, 13], 4, 0.5
    got = dlm_loglikelihoods(model, [seq], [ctx], mc_num=8, batch_size=8, seed=0, cfg=w)[0]
    plain = dlm_loglikelihoods(model, [seq], [ctx], mc_num=8, batch_size=8, seed=0, cfg=0.0)[0]
    want = 0.0
    for sub, weight in (((4,), 0.5), ((5,), 0.5), ((4, 5), 0.5)):  # (1/T)/C(T,x)·T/x
        cond = torch.tensor([seq])
        cond[0, list(sub)] = model.mask_id
        un = cond.clone()
        un[0, :ctx] = model.mask_id  # the whole prompt, BOS included
        lc, lu = model.position_logits(cond)[0].float(), model.position_logits(un)[0].float()
        logp = F.log_softmax(lu + (w + 1) * (lc - lu), -1)
        want += weight * sum(logp[i, seq[i]].item() for i in sub)
    assert got == pytest.approx(want, abs=1e-5)
    assert abs(got - plain) > 1e-3, "guidance must change the score"


def test_per_request_cfg_and_mc_num():
    model = _model("llada")
    a, b = [0, 4, 5, 6, 7, 8], [0, 8, 9, 10, 11]
    both = dlm_loglikelihoods(model, [a, b], [3, 2], mc_num=[8, 1], batch_size=8, seed=0, cfg=[0.5, 0.0])
    alone_a = dlm_loglikelihoods(model, [a], [3], mc_num=8, batch_size=8, seed=0, cfg=0.5)
    alone_b = dlm_loglikelihoods(model, [b], [2], mc_num=1, batch_size=8, seed=0, cfg=0.0)
    assert both == pytest.approx(alone_a + alone_b, abs=1e-9)
    with pytest.raises(ValueError, match="cfg"):
        dlm_loglikelihoods(model, [a, b], [3, 2], mc_num=8, batch_size=8, seed=0, cfg=[0.5])


# ----- perplexity ----------------------------------------------------------------------------
def test_windows_and_text_follow_the_release():
    # range(chunk, n − chunk, stride) with prompt ids[max(0, i − (max_length − chunk)) : i]
    assert windows(20, 8, 4, 4) == [(0, 4), (4, 8), (8, 12)]
    assert windows(21, 8, 4, 4) == [(0, 4), (4, 8), (8, 12), (12, 16)]
    assert release_text(["a", " ", "", "b", "c"], 4) == "a\nb"


def _direct_llada(model, ids, s, seed):
    logs = []
    for start, i in windows(len(ids), s.max_length, s.chunk, s.stride):
        gen = request_generator(seed, [start, i, len(ids)])
        draws = []
        for _ in range(s.mc_num):  # one forward per draw, as the release
            k = int(torch.randint(1, s.chunk + 1, (), generator=gen))
            pos = (i + torch.randperm(s.chunk, generator=gen)[:k]).tolist()
            seq = torch.tensor([ids[start:i + s.chunk]])
            noisy = seq.clone()
            noisy[0, [p - start for p in pos]] = model.mask_id
            logits = model.position_logits(noisy)[0].float()
            draws.append(F.cross_entropy(logits[[p - start for p in pos]], seq[0, [p - start for p in pos]]).item())
        logs.append(math.log(math.exp(sum(draws) / len(draws))))
    return math.exp(sum(logs) / len(logs))


def _direct_dream(model, ids, s, seed):
    total, tokens = 0.0, 0
    for start, i in windows(len(ids), s.max_length, s.chunk, s.stride):
        gen = request_generator(seed, [start, i, len(ids)])
        seq = torch.tensor([ids[start:i + s.chunk]])
        t = torch.rand(s.mc_num, generator=gen, dtype=torch.float32)
        p = (1 - s.sampling_eps) * t + s.sampling_eps
        u = torch.rand(s.mc_num, seq.shape[1], generator=gen)
        losses = []
        for d in range(s.mc_num):
            m = u[d] < p[d]
            m[: i - start] = False
            m[-1] = False
            if not m.any():
                continue
            noisy = torch.where(m, torch.full_like(seq[0], model.mask_id), seq[0])[None]
            logits = model.position_logits(noisy)[0].float()
            losses.append((F.cross_entropy(logits[m], seq[0, m], reduction="none").double() / float(p[d])).sum().item())
        total += sum(losses) / len(losses)
        tokens += s.chunk
    return math.exp(total / tokens)


@pytest.mark.parametrize("family", ["llada", "dream", "llama"])
def test_perplexity_formula_equals_direct_computation(family):
    model = _model(family, seed=2)
    ids = [0] + [int(t) for t in torch.randint(4, 40, (40,), generator=torch.Generator().manual_seed(5))]
    s = PerplexitySettings(max_length=16, chunk=6, stride=6, mc_num=5)
    got = perplexity(model, ids, s, seed=7)
    assert got["windows"] == len(windows(len(ids), 16, 6, 6)) == 5
    if family == "llada":
        want = _direct_llada(model, ids, s, 7)
    elif family == "dream":
        want = _direct_dream(model, ids, s, 7)
    else:
        total = 0.0
        for start, i in windows(len(ids), 16, 6, 6):
            logp = F.log_softmax(model(torch.tensor([ids[start:i + 6]])).double()[0], -1)
            total -= sum(logp[p - start - 1, ids[p]].item() for p in range(i, i + 6))
        want = math.exp(total / (5 * 6))
    assert got["perplexity"] == pytest.approx(want, rel=1e-5)
    assert got["formula"] == {"llada": "llada", "dream": "dream", "llama": "causal"}[family]
    assert 1 < got["perplexity"] < 1e4


# ----- BOS / EOS / [MASK] per protocol -------------------------------------------------------
@pytest.fixture(scope="module")
def llada_dir(tmp_path_factory):
    from sinkprune.data.skills import training_lines
    from sinkprune.data.tokenizer import special_ids, train_tokenizer
    from sinkprune.models import build_model, save_model

    tok = train_tokenizer(training_lines(500, 0), vocab_size=300, image_tokens=0)
    root = tmp_path_factory.mktemp("proto")
    model = build_model("llada", ARCH, vocab_size=len(tok), max_seq_len=64, special_ids=special_ids(tok), seed=0)
    save_model(model, root)
    tok.save_pretrained(str(root))
    return root


def _lm(path, **kw):
    from sinkprune.evaluate.lm import SinkpruneLM

    return SinkpruneLM(pretrained=str(path), **kw)


def test_bos_rule_per_protocol(llada_dir):
    corrected, released = _lm(llada_dir), _lm(llada_dir, protocol="released")
    ids = corrected.tok_encode("12+35=")
    seq, ctx = corrected._with_bos(ids, [5, 6])
    assert seq[0] == corrected.model.bos_id and ctx == len(ids) + 1
    # The stand-in tokenizer adds no special tokens: released sequences carry no BOS at all.
    assert released.tokenizer("12+35=")["input_ids"] == released.tok_encode("12+35=") == ids
    seq, ctx = released._with_bos(ids, [5, 6])
    assert seq == ids + [5, 6] and ctx == len(ids)
    with pytest.raises(ValueError, match="protocol"):
        _lm(llada_dir, protocol="exact")


def test_answer_cut_per_protocol(llada_dir):
    lm = _lm(llada_dir, protocol="released")
    eos, mask = lm.model.eos_id, lm.model.mask_id
    new = lm.tok_encode("12 is") + [eos] + lm.tok_encode(" 35") + [mask]
    specials = {eos, lm.model.pad_id, mask}
    assert lm._answer(new, [], specials) == lm.tok_decode(lm.tok_encode("12 is"))
    released = lm._released_answer(new, [])
    assert "35" in released and "12" in released, "the release keeps the text after EOS"
    assert lm._released_answer(new, [" is"]) == lm.tok_decode(lm.tok_encode("12"))


def test_sampler_commits_mask_only_when_allowed(llada_dir):
    from sinkprune.models import load_model
    from sinkprune.models.sampling import generate

    model = load_model(str(llada_dir)).eval()
    original = model.position_logits

    def mask_heavy(ids, positions=None):
        logits = original(ids, positions)
        logits[..., model.mask_id] += 100.0  # the model "predicts" [MASK] everywhere
        return logits

    model.position_logits = mask_heavy
    prompt = torch.tensor([[model.bos_id, 10, 11, 12]])
    kept = generate(model, prompt, gen_length=4, steps=4, block_length=4)
    left = generate(model, prompt, gen_length=4, steps=4, block_length=4, allow_mask=True)
    assert (kept[0, 4:] != model.mask_id).all()
    assert (left[0, 4:] == model.mask_id).all()


def test_task_settings_reach_the_estimator(llada_dir):
    """cfg and mc_num per task name on the request (lm-eval's Instance.task_name)."""
    from lm_eval.api.instance import Instance

    def req(task, i):
        return Instance("loglikelihood", {}, ("12+35=", " 47"), i, metadata=(task, i, 1))

    lm = _lm(llada_dir, task_cfg={"guided": 0.5}, task_mc_num={"guided": 4})
    plain = _lm(llada_dir)
    (g,), (p,) = [s for s, _ in lm.loglikelihood([req("guided", 0)])], [s for s, _ in lm.loglikelihood([req("other", 0)])]
    assert p == pytest.approx(plain.loglikelihood([req("other", 0)])[0][0], abs=1e-9)
    seq, ctx = lm._with_bos(*lm._encode_pair("12+35=", " 47"))
    want = dlm_loglikelihoods(lm.model, [seq], [ctx], 4, lm.batch_size, 0, cfg=0.5)[0]
    assert g == pytest.approx(want, abs=1e-9) and g != pytest.approx(p)


def test_per_task_settings_spread_to_group_leaves():
    """A setting on a group (MMLU's 57 subjects) reaches every leaf task the requests name."""
    from sinkprune.evaluate.run import ResolvedTasks

    tasks = ResolvedTasks(["mmlu", "piqa"], None, [], {}, {}, leaves={"mmlu": ["mmlu_anatomy", "mmlu_law"], "piqa": ["piqa"]})
    assert tasks.per_leaf({"mmlu": 1, "piqa": 2}, "task_mc_num") == {"mmlu_anatomy": 1, "mmlu_law": 1, "piqa": 2}
    with pytest.raises(KeyError, match="eval.cfg names task.*arc_easy"):
        tasks.per_leaf({"arc_easy": 0.5}, "cfg")
