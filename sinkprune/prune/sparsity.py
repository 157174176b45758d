"""Sparsity specifications and score → mask selection (pure tensor functions).

A mask is a bool tensor shaped like the weight, ``True`` where the weight is removed. Scores are
importance values: the *lowest* scores are pruned. Ties are broken by position (stable sort), so
the same scores always give the same mask. ``released=True`` (``protocol: released``) selects the
released code's rules instead: ``int`` counts and the ``<=`` threshold, which takes every tie
(docs/deviations.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

_NM = re.compile(r"^(\d+)[:\-](\d+)$")


@dataclass(frozen=True)
class Sparsity:
    """A parsed ``{sparsity}`` wildcard.

    ``ratio`` is the fraction removed (N:M gives N/M). ``n``/``m`` are 0 unless semi-structured:
    N:M means *N of every M consecutive input weights are removed* (2:4 → 50 %), as in Wanda and
    SparseGPT's ``prune_n``/``prune_m``.
    """

    ratio: float
    n: int = 0
    m: int = 0

    @property
    def is_nm(self) -> bool:
        return self.m > 0

    @property
    def tag(self) -> str:
        """Canonical string: ``0.50`` or ``2:4``."""
        return f"{self.n}:{self.m}" if self.is_nm else f"{self.ratio:.2f}"


def parse_sparsity(spec: str | float) -> Sparsity:
    """Parse ``"0.50"``, ``0.5``, ``"2:4"`` or ``"2-4"`` (the path-safe wildcard form)."""
    text = str(spec).strip()
    match = _NM.match(text)
    if match:
        n, m = int(match.group(1)), int(match.group(2))
        if not 0 < n < m:
            raise ValueError(f"N:M sparsity needs 0 < N < M, got {text!r}")
        return Sparsity(ratio=n / m, n=n, m=m)
    try:
        ratio = float(text)
    except ValueError as err:
        raise ValueError(f"sparsity must be a ratio like '0.50' or N:M like '2:4', got {text!r}") from err
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"sparsity ratio must be in [0, 1), got {ratio}")
    return Sparsity(ratio=ratio)


def count_to_prune(total: int, ratio: float, released: bool = False) -> int:
    """Number of elements removed out of ``total``.

    corrected: round(ratio·total). released: ``int(total·ratio)`` as VILA-Lab/Sink-Aware-Pruning
    computes it: it truncates (int(128·0.7) = 89, round gives 90) and drops one more whenever the
    float product lands just below an integer (int(100·0.29) = 28). At 0.25/0.50/0.75 of
    power-of-two widths both agree.
    """
    return int(total * ratio) if released else int(round(ratio * total))


def _lowest_k(scores: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """Bool mask of the k lowest entries along ``dim`` (stable: earlier positions lose ties)."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if k <= 0:
        return mask
    order = torch.sort(scores, dim=dim, stable=True).indices
    idx = order.narrow(dim, 0, k)
    return mask.scatter_(dim, idx, True)


def threshold_mask(scores: torch.Tensor, ratio: float) -> torch.Tensor:
    """The released rule: prune every score ``<=`` the ``int(numel·ratio)``-th smallest (0-based).

    That removes ``int(numel·ratio) + 1`` entries (plus any ties at the threshold): one more than
    the count it names. Released magnitude pruning applies it to each weight matrix and released
    SparseGPT to each 128-column block. Ratio 0 removes nothing (the released entry point skips
    pruning at sparsity 0).
    """
    if ratio == 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    thresh = torch.sort(scores.reshape(-1))[0][int(scores.numel() * ratio)]
    return scores <= thresh


def row_mask(scores: torch.Tensor, ratio: float, released: bool = False) -> torch.Tensor:
    """Prune the lowest :func:`count_to_prune` ``(D_in, ratio)`` scores of every output row.

    scores: ``[D_out, D_in]``. Returns bool ``[D_out, D_in]``; every row has the same count.
    """
    return _lowest_k(scores, count_to_prune(scores.shape[1], ratio, released), dim=1)


def layer_mask(scores: torch.Tensor, ratio: float, released: bool = False) -> torch.Tensor:
    """One layer-wide threshold for the whole matrix (magnitude pruning; rows end up unequal).

    corrected: exactly ``round(ratio·numel)`` lowest scores. released: :func:`threshold_mask`,
    i.e. the released code's ``<=`` rule, one weight more per matrix.
    """
    if released:
        return threshold_mask(scores, ratio)
    flat = _lowest_k(scores.reshape(-1), count_to_prune(scores.numel(), ratio), dim=0)
    return flat.reshape(scores.shape)


def nm_mask(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """N:M mask: in every row, each group of ``m`` consecutive inputs loses its ``n`` lowest scores.

    scores: ``[D_out, D_in]`` with ``D_in % m == 0``. Returns bool ``[D_out, D_in]``.
    """
    rows, cols = scores.shape
    if cols % m:
        raise ValueError(f"N:M sparsity needs D_in divisible by M: D_in={cols}, M={m}")
    grouped = scores.reshape(rows, cols // m, m)
    return _lowest_k(grouped, n, dim=2).reshape(rows, cols)


def select_mask(scores: torch.Tensor, sparsity: Sparsity, layer_wide: bool = False,
                released: bool = False) -> torch.Tensor:
    """Mask for a score matrix under ``sparsity``: N:M groups, else per row (or layer-wide).

    ``released`` selects the released code's counting and threshold rules (protocol: released).
    """
    if sparsity.is_nm:
        return nm_mask(scores, sparsity.n, sparsity.m)
    if layer_wide:
        return layer_mask(scores, sparsity.ratio, released)
    return row_mask(scores, sparsity.ratio, released)


def nm_holds(weight: torch.Tensor, n: int, m: int) -> bool:
    """True if every group of ``m`` consecutive inputs of every row has at least ``n`` zeros."""
    rows, cols = weight.shape
    zeros = (weight.reshape(rows, cols // m, m) == 0).sum(dim=2)
    return bool((zeros >= n).all())
