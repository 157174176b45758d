"""Every pruning method on tiny random models built with sinkprune.models.build_model."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from sinkprune.models import build_model
from sinkprune.models.noising import noise_protection
from sinkprune.prune.capture import all_linear_modules, input_hooks
from sinkprune.prune.methods import METHODS, NEEDS_SHARED, STRUCTURED, dense_statistics, prune_model
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import count_to_prune, nm_holds, parse_sparsity
from sinkprune.prune.stats import (SharedStats, compute_shared_stats, noisy_inputs,
                                   sink_score_passes, stable_mask)
from sinkprune.sinks.scores import stable_sink_gate
from sinkprune.sinks.settings import SinkSettings

torch.set_num_threads(1)

ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "tie_embeddings": True}
SPECIAL = {"bos": 1, "eos": 2, "pad": 3, "mask": 4}
VOCAB, SEQ, N = 64, 24, 5
# blocksize 16 < D_in so SparseGPT's multi-block path runs on these small layers
SETTINGS = PruneSettings(blocksize=16)


def _model(family: str = "llada", seed: int = 0):
    special = SPECIAL if family != "llama" else {k: v for k, v in SPECIAL.items() if k != "mask"}
    return build_model(family, ARCH, VOCAB, SEQ, special, seed)


def _calibration(seed: int = 0) -> torch.Tensor:
    ids = torch.randint(5, VOCAB, (N, SEQ), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = SPECIAL["bos"]
    return ids


@pytest.fixture(scope="module")
def llada():
    model, ids = _model(), _calibration()
    return model, ids, compute_shared_stats(model, ids, SinkSettings(), seed=0)


def _pruned(base, method: str, spec: str, ids, shared, settings: PruneSettings = SETTINGS):
    model = copy.deepcopy(base)
    prune_model(model, method, parse_sparsity(spec), ids, shared, settings)
    return model


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("method", [m for m in METHODS if m not in STRUCTURED])
@pytest.mark.parametrize("spec", ["0.25", "0.50", "0.75", "2:4", "4:8"])
def test_achieved_sparsity(llada, method: str, spec: str) -> None:
    base, ids, shared = llada
    sparsity = parse_sparsity(spec)
    model = _pruned(base, method, spec, ids, shared)
    assert model(ids).isfinite().all()
    for name, module in all_linear_modules(model).items():
        w = module.weight
        if sparsity.is_nm:
            assert nm_holds(w, sparsity.n, sparsity.m), name
            continue
        zeros = (w == 0).sum(dim=1)
        if method in ("wanda", "sink_wanda", "sink_wanda_unstable"):
            assert (zeros == count_to_prune(w.shape[1], sparsity.ratio)).all(), name
        elif method == "magnitude":
            assert int(zeros.sum()) == count_to_prune(w.numel(), sparsity.ratio), name
        else:  # SparseGPT: exact per block of `blocksize` columns
            blocks = (w == 0).reshape(w.shape[0], -1, SETTINGS.blocksize).sum(dim=(0, 2))
            assert (blocks == count_to_prune(w.shape[0] * SETTINGS.blocksize, sparsity.ratio)).all(), name


def test_methods_differ_and_are_deterministic(llada) -> None:
    base, ids, shared = llada
    again = compute_shared_stats(base, ids, SinkSettings(), seed=0)
    assert torch.equal(again.scores, shared.scores) and torch.equal(again.noisy, shared.noisy)
    acc, acc_again = (dense_statistics(base, "sink_wanda", ids, s) for s in (shared, again))
    assert all(torch.equal(acc[k], acc_again[k]) for k in acc)
    masks = {}
    for method in ("magnitude", "wanda", "sparsegpt", "sink_wanda", "sink_sparsegpt"):
        first = _pruned(base, method, "0.50", ids, shared)
        assert _same(first, _pruned(base, method, "0.50", ids, shared)), method
        masks[method] = torch.cat([(m.weight == 0).flatten() for m in all_linear_modules(first).values()])
    assert not torch.equal(masks["wanda"], masks["sink_wanda"])
    assert not torch.equal(masks["sparsegpt"], masks["sink_sparsegpt"])
    assert not torch.equal(masks["wanda"], masks["magnitude"])


def _with_scores(model, ids, noisy, scores, sinks: SinkSettings, steps) -> SharedStats:
    return SharedStats(steps, noisy, scores, stable_mask(scores, sinks), stable_sink_gate(scores, tau=sinks.tau))


def _reference_acc(model, noisy: torch.Tensor) -> dict[str, torch.Tensor]:
    """Unweighted one-shot accumulators, computed sequence by sequence without the stats code."""
    linears = all_linear_modules(model)
    acc = {k: torch.zeros(m.in_features) for k, m in linears.items()}

    def add(name: str, x: torch.Tensor) -> None:
        acc[name] += x[0].float().norm(dim=0)

    with torch.no_grad(), input_hooks(linears, add):
        for t in range(noisy.shape[0]):
            for b in range(noisy.shape[1]):
                model(noisy[t, b:b + 1])
    return acc


def test_unit_omega_reduces_each_sink_method_to_its_unweighted_form(llada) -> None:
    base, ids, _ = llada
    sinks = SinkSettings()
    steps, noisy = noisy_inputs(base, ids, sinks, torch.Generator().manual_seed(0))
    shared = _with_scores(base, ids, noisy, torch.zeros(noisy.shape), sinks, steps)
    assert torch.equal(shared.omega_bar(), torch.ones(N, SEQ))
    # sink_sparsegpt with ω ≡ 1 is SparseGPT, bit for bit
    assert _same(_pruned(base, "sink_sparsegpt", "0.50", ids, shared), _pruned(base, "sparsegpt", "0.50", ids, shared))
    # sink_structured with ω ≡ 1 is structured
    assert _same(_pruned(base, "sink_structured", "0.30", ids, shared), _pruned(base, "structured", "0.30", ids, shared))
    # sink_wanda with ω ≡ 1 is Σ_t Σ_b ‖X_t,b[:, j]‖₂ on the dense model (released `sink` without sinks)
    reference = _reference_acc(base, noisy)
    for name, acc in dense_statistics(base, "sink_wanda", ids, shared).items():
        torch.testing.assert_close(acc, reference[name], rtol=1e-5, atol=1e-5)


def test_unstable_gate_with_fixed_first_token_sink_equals_baseline() -> None:
    """Causal model, hard rule: position 0 is the only sink at every step, so the gate keeps ω ≡ 1.

    Causal attention gives position 0 about L·H·(H_S − 1) more mass than the others (≈ 23 here,
    position 1 ≈ 15); ε = 19 makes the first token the only sink.
    """
    base, ids = _model("llama", seed=1), _calibration(1)
    gated = SinkSettings(rule="hard", hard_eps=19.0, gate="unstable")
    steps, noisy = noisy_inputs(base, ids, gated, torch.Generator().manual_seed(0))
    scores = sink_score_passes(base, noisy, gated)
    first_only = torch.zeros_like(scores)
    first_only[..., 0] = 1.0
    assert torch.equal(scores, first_only), "precondition: the only sink is the first token"

    shared = _with_scores(base, ids, noisy, scores, gated, steps)
    unweighted = _with_scores(base, ids, noisy, torch.zeros_like(scores), gated, steps)
    ungated = _with_scores(base, ids, noisy, scores, replace(gated, gate="none"), steps)
    assert shared.stable is not None and shared.stable[:, 0].all() and not shared.stable[:, 1:].any()
    for method, spec in (("sink_sparsegpt", "0.50"), ("sink_wanda", "2:4"), ("sink_structured", "0.30")):
        baseline = {"sink_sparsegpt": "sparsegpt", "sink_wanda": "sink_wanda",
                    "sink_structured": "structured"}[method]
        reference = unweighted if method == "sink_wanda" else shared
        assert _same(_pruned(base, method, spec, ids, shared), _pruned(base, baseline, spec, ids, reference)), method
    # Control: without the gate the first-token sink is down-weighted and the result changes.
    assert not _same(_pruned(base, "sink_sparsegpt", "0.50", ids, ungated), _pruned(base, "sparsegpt", "0.50", ids, ungated))


@pytest.mark.parametrize("method", STRUCTURED)
@pytest.mark.parametrize("spec", ["0.30", "0.50"])
def test_structured_runs_smaller(llada, method: str, spec: str) -> None:
    base, ids, shared = llada
    model = _pruned(base, method, spec, ids, shared)
    kept = ARCH["intermediate_size"] - count_to_prune(ARCH["intermediate_size"], parse_sparsity(spec).ratio)
    assert model.intermediate_sizes() == [kept] * ARCH["num_layers"]
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in base.parameters())
    out = model(ids)
    assert out.shape == base(ids).shape and out.isfinite().all()
    with pytest.raises(ValueError):
        prune_model(copy.deepcopy(base), method, parse_sparsity("2:4"), ids, shared, SETTINGS)


def test_dream_noise_spares_first_and_last() -> None:
    model, ids = _model("dream"), _calibration()
    _, noisy = noisy_inputs(model, ids, SinkSettings(), torch.Generator().manual_seed(0))
    assert torch.equal(noisy[:, :, 0], ids[:, 0].expand(noisy.shape[0], N))
    assert torch.equal(noisy[:, :, -1], ids[:, -1].expand(noisy.shape[0], N))
    assert (noisy[-1, :, 1:-1] == SPECIAL["mask"]).float().mean() > 0.9  # t = 1.0 masks nearly all else


def test_pruning_noise_may_mask_bos_the_sink_analysis_never() -> None:
    """One noise rule, BOS stated per stage (docs/method.md §2): pruning statistics mask BOS like
    any token (the released rule), the sink analysis protects it; Dream keeps both ends either way."""
    llada, dream, ids = _model("llada"), _model("dream"), _calibration()
    _, noisy = noisy_inputs(llada, ids, SinkSettings(), torch.Generator().manual_seed(0))
    assert (noisy[-1, :, 0] == SPECIAL["mask"]).all()  # t = 1.0: every BOS masked
    assert not noise_protection(llada, ids, protect_bos=False).any()
    assert torch.equal(noise_protection(llada, ids, protect_bos=True), ids == SPECIAL["bos"])
    ends = noise_protection(dream, ids, protect_bos=False)
    assert ends[:, [0, -1]].all() and not ends[:, 1:-1].any()


def test_shared_stats_round_trip_and_compatibility(llada, tmp_path) -> None:
    _, ids, shared = llada
    shared.save(tmp_path / "shared.pt")
    loaded = SharedStats.load(tmp_path / "shared.pt")
    assert torch.equal(loaded.scores, shared.scores) and loaded.timesteps == shared.timesteps
    assert torch.equal(loaded.noisy, shared.noisy) and torch.equal(loaded.stable_sinks, shared.stable_sinks)
    loaded.check_compatible(ids, SinkSettings())
    # Keys of the sink analysis that do not change the scores leave shared.pt usable.
    loaded.check_compatible(ids, SinkSettings(bootstrap=10, analysis_samples=3, top_k=1, untrained_seeds=2,
                                              gen_length=8, analysis_seq_len=12, strong_head_ratio=2.0))
    with pytest.raises(ValueError):
        loaded.check_compatible(ids, SinkSettings(alpha=3.0))
    with pytest.raises(ValueError):
        loaded.check_compatible(ids, SinkSettings(tau=0.5))
    with pytest.raises(ValueError):
        loaded.check_compatible(ids[:-1], SinkSettings())


def test_each_method_measures_only_what_it_uses(llada) -> None:
    """Sink-aware SparseGPT takes ω̄ from the sink scores and measures nothing more; sink-aware
    Wanda its accumulators, the structured methods their channel norms (structured without the
    sink scores); measured once, they give every sparsity the same model as measuring per call."""
    base, ids, shared = llada
    assert dense_statistics(base, "sink_sparsegpt", ids, shared) is None
    assert dense_statistics(base, "wanda", ids, None) is None
    acc = dense_statistics(base, "sink_wanda", ids, shared)
    assert len(acc) == 7 * ARCH["num_layers"]
    plain = dense_statistics(base, "structured", ids, None)
    weighted = dense_statistics(base, "sink_structured", ids, shared)
    assert sorted(plain) == sorted(weighted) == list(range(ARCH["num_layers"]))
    assert not torch.equal(plain[0], weighted[0])
    for method, dense in (("sink_wanda", acc), ("structured", plain), ("sink_structured", weighted)):
        for spec in ("0.30", "0.50"):
            once = copy.deepcopy(base)
            prune_model(once, method, parse_sparsity(spec), ids, shared if method in NEEDS_SHARED else None,
                        SETTINGS, dense)
            assert _same(once, _pruned(base, method, spec, ids, shared)), method
    with pytest.raises(ValueError, match="sink_wanda"):
        dense_statistics(base, "sink_wanda", ids, None)
