"""Sink statistics on hand-built mass arrays: values computed by hand, controls, bootstrap, claim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sinkprune.sinks.baseline import baseline_rng, baseline_statistics, uniform_dominant_variance
from sinkprune.sinks.bootstrap import bootstrap_indices, mean_ci
from sinkprune.sinks.claim import claim_report, compare
from sinkprune.sinks.kinds import BOS, MASK, OTHER, PUNCT, is_punctuation, token_kinds
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.stats import (
    dominant_positions,
    positional_variance,
    sequence_statistics,
    sink_centroids,
    spatial_variance,
    strong_head_share,
    top_share,
)
from sinkprune.sinks.summary import SinkAnalysis, sinks_latex, sinks_table

torch.set_num_threads(1)
SETTINGS = SinkSettings(bootstrap=200, top_k=2)


def sink_mass(positions: list[list[int]], seq_len: int = 16, layers: int = 2, heads: int = 2,
              sink: float = 20.0) -> np.ndarray:
    """[T, N, L, H, S]: uniform mass 1 everywhere plus ``sink`` on positions[n][t] in every head."""
    steps, n = len(positions[0]), len(positions)
    mass = np.ones((steps, n, layers, heads, seq_len), dtype=np.float32)
    for seq, row in enumerate(positions):
        for t, pos in enumerate(row):
            mass[t, seq, :, :, pos] += sink
    return mass


def other_kinds(mass: np.ndarray) -> np.ndarray:
    return np.full((mass.shape[0], mass.shape[1], mass.shape[-1]), OTHER, dtype=np.int8)


def full_lengths(mass: np.ndarray) -> np.ndarray:
    return np.full(mass.shape[0], mass.shape[-1])


def test_fixed_sink_has_zero_temporal_variance():
    mass = sink_mass([[3, 3, 3, 3], [0, 0, 0, 0]])
    stats = sequence_statistics(mass, other_kinds(mass), full_lengths(mass), SETTINGS)
    np.testing.assert_array_equal(stats["dominant_var"], [0.0, 0.0])
    np.testing.assert_allclose(stats["centroid_var"], [0.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(stats["sink_presence"], [1.0, 1.0])


def test_moving_sink_variance_by_hand():
    # d_t = 0, 4, 8, 2: mean 3.5, squared deviations 12.25 + 0.25 + 20.25 + 2.25 = 35, /T = 8.75, /S² = /256.
    mass = sink_mass([[0, 4, 8, 2]])
    stats = sequence_statistics(mass, other_kinds(mass), full_lengths(mass), SETTINGS)
    assert stats["dominant_var"][0] == pytest.approx(8.75 / 256)
    assert stats["centroid_var"][0] == pytest.approx(8.75 / 256)
    for layer in ("layer0", "layer1"):
        per_layer = sequence_statistics(mass, other_kinds(mass), full_lengths(mass), SETTINGS, scope=layer)
        assert per_layer["dominant_var"][0] == pytest.approx(8.75 / 256)


def test_centroid_is_mass_weighted_over_sinks_only():
    # Two sinks at 2 (mass 30) and 10 (mass 10) over background 1: centroid (2·30 + 10·10)/40 = 4.
    m = np.ones((1, 1, 16))
    m[0, 0, 2], m[0, 0, 10] = 30.0, 10.0
    scores = np.zeros_like(m)
    scores[0, 0, [2, 10]] = 0.9
    assert sink_centroids(m, scores)[0, 0] == pytest.approx(4.0)
    assert math.isnan(sink_centroids(m, np.zeros_like(m))[0, 0])


def test_variance_undefined_with_fewer_than_two_timesteps():
    positions = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, 5.0]])
    out = positional_variance(positions, seq_len=10)
    assert math.isnan(out[1])
    assert out[0] == pytest.approx(1.0 / 100)  # var(1, 3) = 1


def test_concentration_and_spatial_variance():
    m = np.ones((2, 1, 4))
    m[:, 0, 0] = 5.0  # shares: 5/8, top-2 6/8
    lengths = np.array([4, 4])
    assert top_share(m, lengths, 1)[0] == pytest.approx(5 / 8)
    assert top_share(m, lengths, 2)[0] == pytest.approx(6 / 8)
    # profile in multiples of uniform (mean 2): [2.5, .5, .5, .5] → variance 0.75
    assert spatial_variance(m, lengths)[0] == pytest.approx(0.75)
    assert spatial_variance(np.ones((2, 1, 4)), lengths)[0] == pytest.approx(0.0)


def test_prefix_padding_is_ignored():
    # AR prefixes: positions ≥ ℓ_t do not exist; a huge value there must change nothing.
    m = np.ones((2, 1, 6))
    m[:, 0, 1] = 4.0
    lengths = np.array([3, 6])
    padded = m.copy()
    padded[0, 0, 3:] = 1e6
    for fn in (lambda x: dominant_positions(x, lengths), lambda x: top_share(x, lengths, 1),
               lambda x: spatial_variance(x, lengths)):
        np.testing.assert_allclose(fn(m), fn(padded))


def test_strong_head_share():
    # [T=1, N=1, L=1, H=2, S=4]: head 0 puts 13 of 16 query-mass units on key 0 (> 2 × 4), head 1 uniform.
    heads = np.ones((1, 1, 1, 2, 4)) * 4.0
    heads[0, 0, 0, 0] = [13.0, 1.0, 1.0, 1.0]
    assert strong_head_share(heads, np.array([4]), ratio=2.0)[0] == pytest.approx(0.5)
    assert strong_head_share(heads, np.array([4]), ratio=5.0)[0] == pytest.approx(0.0)


def test_token_kinds_and_dominant_kind_shares():
    punct = np.zeros(10, dtype=bool)
    punct[7] = True
    ids = np.array([[[0, 5, 7, 9], [0, 9, 9, 7]]])  # [T=1, N=2, S=4]; bos 0, mask 9
    kinds = token_kinds(ids, bos_id=0, mask_id=9, punct=punct)
    assert kinds[0, 0].tolist() == [BOS, OTHER, PUNCT, MASK]
    mass = sink_mass([[0, 2], [1, 3]], seq_len=4, sink=50.0)
    kinds_t = np.stack([kinds[0], kinds[0]])  # same tokens at both timesteps
    stats = sequence_statistics(mass, kinds_t, full_lengths(mass), SETTINGS)
    assert stats["dominant_kind_bos"].tolist() == [0.5, 0.0]
    assert stats["dominant_kind_punct"].tolist() == [0.5, 0.5]
    assert stats["dominant_kind_mask"].tolist() == [0.0, 0.5]
    assert is_punctuation(" ,") and is_punctuation("»") and not is_punctuation("a,") and not is_punctuation(" ")


def test_random_baseline_matches_closed_form_and_uniform_attention():
    rng = np.random.default_rng(0)
    mass = rng.gamma(1.0, size=(6, 8, 1, 2, 32)).astype(np.float32)
    lengths = np.array([4, 8, 12, 16, 24, 32])
    mass *= np.arange(32)[None, None, None, None, :] < lengths[:, None, None, None, None]
    kinds = np.full((6, 8, 32), OTHER, dtype=np.int8)
    kinds[:, :, 0] = BOS
    base = baseline_statistics(mass, kinds, lengths, SETTINGS, "all", baseline_rng(0, "m"), draws=400)
    expected = uniform_dominant_variance(lengths, 32)
    assert base["dominant_var"].mean() == pytest.approx(expected, rel=0.05)
    assert base["top1_share"][0] == pytest.approx(np.mean(1 / lengths))
    assert base["topk_share"][0] == pytest.approx(np.mean(2 / lengths))
    assert base["dominant_kind_bos"][0] == pytest.approx(np.mean(1 / lengths))
    np.testing.assert_array_equal(base["strong_head_share"], 0.0)
    again = baseline_statistics(mass, kinds, lengths, SETTINGS, "all", baseline_rng(0, "m"), draws=400)
    np.testing.assert_array_equal(base["dominant_var"], again["dominant_var"])  # seeded


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = np.arange(20, dtype=float)
    idx = bootstrap_indices(20, 500, seed=3)
    np.testing.assert_array_equal(idx, bootstrap_indices(20, 500, seed=3))
    mean, low, high = mean_ci(values, idx)
    assert mean == pytest.approx(9.5) and low < mean < high
    assert mean_ci(np.full(20, 2.0), idx) == (2.0, 2.0, 2.0)


def _analysis(dlm_trained: np.ndarray, dlm_untrained: np.ndarray) -> SinkAnalysis:
    analysis = SinkAnalysis()
    ar = np.zeros(len(dlm_trained))
    for (model, state, trajectory), values in {("d", "trained", "noised"): dlm_trained,
                                               ("d", "untrained", "noised"): dlm_untrained,
                                               ("a", "trained", "ar_prefix"): ar,
                                               ("a", "untrained", "ar_prefix"): ar}.items():
        analysis.values[(model, state, trajectory, "all", "dominant_var")] = values
        analysis.shape[(model, state, trajectory)] = (10, 16)
    return analysis


MODELS = {"d": {"kind": "dlm"}, "a": {"kind": "ar"}}


def test_claim_holds_only_beyond_the_untrained_gap():
    rng = np.random.default_rng(1)
    moving = 0.05 + 0.01 * rng.random(16)
    holds = compare(_analysis(moving, 0.01 * rng.random(16)), "d", "a", "noised", "dominant_var", 1, SETTINGS)
    assert holds["holds"] is True and holds["paired_bootstrap"]
    assert holds["excess_over_untrained_gap"]["ci"][0] > 0
    # Same variance untrained: the structural gap explains everything → not shown.
    same = compare(_analysis(moving, moving.copy()), "d", "a", "noised", "dominant_var", 1, SETTINGS)
    assert same["holds"] is False and same["excess_over_untrained_gap"]["value"] == pytest.approx(0.0)
    report = claim_report(_analysis(moving, moving.copy()), MODELS, SETTINGS)
    assert report["summary"]["d"][0]["holds"] is False and report["missing"] == []


def _seeded(analysis: SinkAnalysis, dlm_seeds: list[np.ndarray]) -> SinkAnalysis:
    """Add untrained-s1 … controls: DLM values per seed, AR zeros."""
    for i, values in enumerate(dlm_seeds, start=1):
        analysis.values[("d", f"untrained-s{i}", "noised", "all", "dominant_var")] = values
        analysis.values[("a", f"untrained-s{i}", "ar_prefix", "all", "dominant_var")] = np.zeros(len(values))
        analysis.shape[("d", f"untrained-s{i}", "noised")] = analysis.shape[("a", f"untrained-s{i}", "ar_prefix")] = (10, 16)
    return analysis


def test_claim_ci_covers_the_spread_over_untrained_seeds():
    """A trained gap inside the seed-to-seed spread of untrained gaps is not shown, although the
    sequence bootstrap alone (tight: every sequence alike) would call it; one seed keeps the
    sequence-only interval."""
    rng = np.random.default_rng(3)
    noise = lambda: 0.001 * rng.random(16)
    trained, seed0 = 0.05 + noise(), 0.03 + noise()
    seeds = [0.05 + noise(), 0.02 + noise(), 0.045 + noise()]
    one = compare(_analysis(trained, seed0), "d", "a", "noised", "dominant_var", 1, SETTINGS)
    assert one["holds"] is True and one["untrained_seeds"] == 1
    assert one["excess_over_untrained_gap"]["ci"] == one["excess_ci_sequences_only"]
    many = compare(_seeded(_analysis(trained, seed0), seeds), "d", "a", "noised", "dominant_var", 1, SETTINGS)
    assert many["untrained_seeds"] == 4 and many["holds"] is False
    assert many["excess_ci_sequences_only"][0] > 0  # what the sequence bootstrap alone would say
    gaps = np.array(many["gap_untrained_by_seed"])
    assert gaps == pytest.approx([seed0.mean()] + [s.mean() for s in seeds])
    assert many["excess_over_untrained_gap"]["value"] == pytest.approx(trained.mean() - gaps.mean())
    # The half-width added in quadrature: t(3, .975) · sd · sqrt(1 + 1/4).
    half = 3.182446 * gaps.std(ddof=1) * math.sqrt(1.25)
    point, (low, _) = many["excess_over_untrained_gap"]["value"], many["excess_ci_sequences_only"]
    assert many["excess_over_untrained_gap"]["ci"][0] == pytest.approx(point - math.hypot(point - low, half), rel=1e-5)


def test_table_and_latex_have_every_state_with_cis():
    rng = np.random.default_rng(2)
    analysis = _analysis(rng.random(8), rng.random(8))
    df = sinks_table(analysis, MODELS, SETTINGS)
    assert set(df["state"]) == {"trained", "untrained"} and (df["ci_low"] <= df["value"]).all()
    tex = sinks_latex(df)
    assert tex.count(r"\\") == 1 + 4 and "dominant\\_var" in tex
    # Further untrained seeds: CSV rows after "untrained", not in the LaTeX table.
    seeded = sinks_table(_seeded(analysis, [rng.random(8), rng.random(8)]), MODELS, SETTINGS)
    d = seeded[seeded["model"] == "d"]["state"].tolist()
    assert d == ["trained", "untrained", "untrained-s1", "untrained-s2"]
    assert sinks_latex(seeded) == tex
