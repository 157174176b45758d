"""Pure tensor functions of sinkprune.prune: masks, scores, SparseGPT (no model needed)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sinkprune.prune.importance import (channel_scores, channels_to_keep, sequence_norms, sum_squares,
                                        wanda_scores)
from sinkprune.prune.sparsegpt import HessianAccumulator, sparsegpt_prune
from sinkprune.prune.sparsity import (count_to_prune, layer_mask, nm_holds, nm_mask, parse_sparsity,
                                      row_mask, select_mask)

torch.set_num_threads(1)

RATIOS = st.sampled_from([0.25, 0.5, 0.75, 0.3, 0.29])
NM = st.sampled_from([(2, 4), (4, 8), (1, 4)])


def _matrix(seed: int, rows: int, cols: int) -> torch.Tensor:
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed))


def test_parse_sparsity_forms() -> None:
    assert parse_sparsity("0.50").ratio == 0.5 and not parse_sparsity("0.50").is_nm
    assert parse_sparsity("2:4") == parse_sparsity("2-4")
    assert (parse_sparsity("4:8").n, parse_sparsity("4:8").m, parse_sparsity("4:8").ratio) == (4, 8, 0.5)
    assert parse_sparsity("0.30").tag == "0.30" and parse_sparsity("2-4").tag == "2:4"
    for bad in ("4:2", "1.5", "half", "0:4"):
        with pytest.raises(ValueError):
            parse_sparsity(bad)


def test_count_rounds_instead_of_truncating() -> None:
    assert count_to_prune(100, 0.29) == 29  # int(0.29 * 100) would give 28


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 12), cols=st.integers(2, 40), ratio=RATIOS)
def test_row_mask_exact_per_row_and_lowest(seed: int, rows: int, cols: int, ratio: float) -> None:
    scores = _matrix(seed, rows, cols)
    mask = row_mask(scores, ratio)
    k = count_to_prune(cols, ratio)
    assert (mask.sum(dim=1) == k).all()
    if 0 < k < cols:
        pruned_max = torch.where(mask, scores, torch.full_like(scores, -torch.inf)).max(dim=1).values
        kept_min = torch.where(~mask, scores, torch.full_like(scores, torch.inf)).min(dim=1).values
        assert (pruned_max <= kept_min).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 12), cols=st.integers(2, 40), ratio=RATIOS)
def test_layer_mask_exact_per_layer(seed: int, rows: int, cols: int, ratio: float) -> None:
    scores = _matrix(seed, rows, cols)
    mask = layer_mask(scores, ratio)
    assert int(mask.sum()) == count_to_prune(scores.numel(), ratio)
    if mask.any() and (~mask).any():
        assert scores[mask].max() <= scores[~mask].min()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 12), groups=st.integers(1, 6), nm=NM)
def test_nm_mask_every_group(seed: int, rows: int, groups: int, nm: tuple[int, int]) -> None:
    n, m = nm
    scores = _matrix(seed, rows, groups * m)
    mask = nm_mask(scores, n, m)
    assert (mask.reshape(rows, groups, m).sum(dim=2) == n).all()
    assert nm_holds(torch.where(mask, 0.0, 1.0), n, m)
    assert not nm_holds(torch.ones(rows, groups * m), n, m)


def test_nm_mask_rejects_indivisible_width() -> None:
    with pytest.raises(ValueError):
        nm_mask(torch.randn(3, 6), 2, 4)


def test_select_mask_ties_are_deterministic() -> None:
    scores = torch.zeros(4, 8)
    first = select_mask(scores, parse_sparsity("0.50"))
    assert torch.equal(first, select_mask(scores, parse_sparsity("0.50")))
    assert (first.sum(dim=1) == 4).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 4), split=st.integers(1, 3))
def test_sequence_norms_batch_invariant_and_unit_omega(seed: int, batch: int, split: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch + split, 7, 5, generator=g)
    omega = torch.rand(batch + split, 7, generator=g)
    whole = sequence_norms(x, omega)
    parts = sequence_norms(x[:batch], omega[:batch]) + sequence_norms(x[batch:], omega[batch:])
    torch.testing.assert_close(whole, parts)
    assert torch.equal(sequence_norms(x, torch.ones(batch + split, 7)), sequence_norms(x))
    reference = sum(torch.linalg.vector_norm(x[b] * omega[b, :, None], dim=0) for b in range(batch + split))
    torch.testing.assert_close(whole, reference)


def test_wanda_scores_match_definition() -> None:
    g = torch.Generator().manual_seed(1)
    w, x = torch.randn(3, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    scores = wanda_scores(w, sum_squares(x), tokens=10)
    expected = w.abs() * x.reshape(-1, 4).pow(2).mean(dim=0).sqrt()
    torch.testing.assert_close(scores, expected)


def test_channel_scores_and_keep() -> None:
    down = torch.tensor([[1.0, -2.0, 0.5, 3.0], [1.0, 0.0, -0.5, -1.0]])
    sq = torch.tensor([4.0, 1.0, 100.0, 0.25])
    scores = channel_scores(down, sq)
    torch.testing.assert_close(scores, torch.tensor([4.0, 2.0, 10.0, 2.0]))
    keep = channels_to_keep(scores, 0.5)
    assert keep.tolist() == [0, 2]  # ties (channels 1 and 3) fall by position, kept in order
    with pytest.raises(ValueError):
        channels_to_keep(scores, 1.0)


def test_hessian_unit_omega_equals_plain() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 6, 5, generator=g)
    plain, weighted = HessianAccumulator(5), HessianAccumulator(5)
    plain.add(x)
    weighted.add(x, torch.ones(3, 6))
    assert torch.equal(plain.hessian(), weighted.hessian())
    torch.testing.assert_close(plain.hessian(), 2.0 / 3 * x.reshape(-1, 5).T @ x.reshape(-1, 5))


def _correlated_inputs(seed: int, tokens: int, cols: int) -> torch.Tensor:
    # Correlated features with uneven scales: the regime where OBS reconstruction matters.
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(cols, cols, generator=g) / cols ** 0.5
    scale = torch.exp(torch.randn(cols, generator=g))
    return (torch.randn(1, tokens, cols, generator=g) @ mix + 0.3 * torch.randn(1, tokens, cols, generator=g)) * scale


@pytest.mark.parametrize("spec", ["0.25", "0.50", "0.75", "2:4", "4:8"])
def test_sparsegpt_sparsity_and_reconstruction(spec: str) -> None:
    sparsity = parse_sparsity(spec)
    rows, cols, blocksize = 24, 64, 32
    w = _matrix(3, rows, cols)
    x = _correlated_inputs(4, 256, cols)
    acc = HessianAccumulator(cols)
    acc.add(x)
    pruned, mask = sparsegpt_prune(w, acc.hessian(), sparsity, percdamp=0.01, blocksize=blocksize)
    assert torch.equal(pruned == 0, mask)
    if sparsity.is_nm:
        assert nm_holds(pruned, sparsity.n, sparsity.m)
        assert int(mask.sum()) == rows * cols * sparsity.n // sparsity.m
    else:
        per_block = mask.reshape(rows, cols // blocksize, blocksize).sum(dim=(0, 2))
        assert (per_block == count_to_prune(rows * blocksize, sparsity.ratio)).all()

    flat = x.reshape(-1, cols)

    def error(w_hat: torch.Tensor) -> float:
        return float(torch.linalg.norm(flat @ w.T - flat @ w_hat.T))

    magnitude = torch.where(select_mask(w.abs(), sparsity, layer_wide=True), 0.0, w)
    wanda = torch.where(select_mask(wanda_scores(w, sum_squares(x), flat.shape[0]), sparsity), 0.0, w)
    assert error(pruned) < error(wanda)
    assert error(pruned) < error(magnitude)


def test_sparsegpt_zero_sparsity_keeps_weights_and_dead_columns_drop() -> None:
    w = _matrix(5, 6, 8)
    x = _correlated_inputs(6, 64, 8)
    x[..., 3] = 0.0  # a feature never active
    acc = HessianAccumulator(8)
    acc.add(x)
    pruned, mask = sparsegpt_prune(w, acc.hessian(), parse_sparsity("0.0"), blocksize=4)
    assert mask[:, 3].all() and int(mask.sum()) == 6
    keep = torch.ones(8, dtype=torch.bool)
    keep[3] = False
    torch.testing.assert_close(pruned[:, keep], w[:, keep])


def test_sparsegpt_nm_needs_block_multiple() -> None:
    with pytest.raises(ValueError):
        sparsegpt_prune(torch.randn(2, 8), torch.eye(8), parse_sparsity("4:8"), blocksize=4)
