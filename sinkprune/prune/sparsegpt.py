"""SparseGPT (Frantar & Alistarh, 2023): OBS pruning with lazy block updates, as pure functions.

Follows the algorithm of IST-DASLab/sparsegpt ``fasterprune`` (the version the released
Sink-Aware-Pruning code calls): H = (2/N) Σ XᵀX, dampened by ``percdamp·mean(diag H)``, upper
Cholesky factor of H⁻¹, columns processed left to right in blocks of ``blocksize``; the mask of
a block is chosen from ``w² / [H⁻¹]_jj²`` on the *already updated* weights; each removed weight's
error is spread over the remaining columns. Sink-aware SparseGPT only changes X into ω ⊙ X.

Departure from the release (protocol: corrected): the unstructured mask takes exactly
``round(ratio·rows·cols)`` weights per block; the reference thresholds with ``<=`` at index
``int(ratio·numel)``, removing one extra per 128-column block, and ``released=True`` does that
(docs/deviations.md).
"""

from __future__ import annotations

import math

import torch

from sinkprune.prune.sparsity import Sparsity, count_to_prune, threshold_mask


class HessianAccumulator:
    """Running ``H = (2/N) Σ_n (ω_n ⊙ X_n)ᵀ (ω_n ⊙ X_n)`` over calibration sequences.

    N counts sequences (as in the reference code); the scale of H does not change the result
    because damping is relative to its diagonal. corrected sums XᵀX and scales once at the end;
    ``released=True`` updates a running mean one sequence at a time as the reference's
    ``add_batch`` does at batch size 1 (``H *= n/(n+1)``, ``H += (√(2/n)·X)ᵀ(√(2/n)·X)``), which
    rounds differently and can move a weight near the block threshold.
    """

    def __init__(self, columns: int, released: bool = False, device: torch.device | str = "cpu") -> None:
        # float32 whatever the model's dtype, as the reference accumulates H.
        self.sum = torch.zeros(columns, columns, dtype=torch.float32, device=device)
        self.count = 0
        self.released = released

    def add(self, x: torch.Tensor, omega: torch.Tensor | None = None) -> None:
        """Add activations ``x`` ``[B, S, D]`` with optional per-token weights ``omega`` ``[B, S]``."""
        x = x.detach().to(device=self.sum.device, dtype=torch.float32)
        if omega is not None:
            x = x * omega.to(device=x.device, dtype=x.dtype).unsqueeze(-1)
        if self.released:
            for row in x:
                self.sum *= self.count / (self.count + 1)
                self.count += 1
                inp = math.sqrt(2 / self.count) * row.reshape(-1, row.shape[-1]).t()
                self.sum += inp.matmul(inp.t())
            return
        flat = x.reshape(-1, x.shape[-1])
        self.sum += flat.T @ flat
        self.count += x.shape[0]

    def hessian(self) -> torch.Tensor:
        """``[D, D]`` Hessian; raises if nothing was accumulated."""
        if self.count == 0:
            raise ValueError("no calibration activations were accumulated")
        return self.sum if self.released else self.sum * (2.0 / self.count)


def _inverse_cholesky(hessian: torch.Tensor, percdamp: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper Cholesky factor of the dampened inverse Hessian, and the dead-column mask."""
    h = hessian.clone().float()
    dead = torch.diag(h) == 0
    # A feature that is never active carries no information; the reference fixes H there so
    # the factorisation exists and zeroes the matching weights.
    h[dead, dead] = 1.0
    damp = percdamp * torch.mean(torch.diag(h))
    idx = torch.arange(h.shape[0], device=h.device)
    h[idx, idx] += damp
    lower = torch.linalg.cholesky(h)
    h_inv = torch.cholesky_inverse(lower)
    return torch.linalg.cholesky(h_inv, upper=True), dead


def sparsegpt_prune(weight: torch.Tensor, hessian: torch.Tensor, sparsity: Sparsity,
                    percdamp: float = 0.01, blocksize: int = 128,
                    released: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Prune ``weight`` ``[D_out, D_in]`` given ``hessian`` ``[D_in, D_in]``.

    ``released`` selects the reference's ``<=`` block threshold (one weight more per block).

    Returns (pruned weight in the input dtype, bool mask ``[D_out, D_in]`` of removed weights,
    including dead input columns). For N:M, ``blocksize`` must be a multiple of M.
    """
    if sparsity.is_nm and blocksize % sparsity.m:
        raise ValueError(f"blocksize {blocksize} must be a multiple of M={sparsity.m}")
    w = weight.detach().clone().float()
    rows, cols = w.shape
    h_inv, dead = _inverse_cholesky(hessian, percdamp)
    w[:, dead] = 0.0
    removed = torch.zeros_like(w, dtype=torch.bool)
    removed[:, dead] = True

    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        hinv1 = h_inv[i1:i2, i1:i2]
        diag1 = torch.diag(hinv1)
        mask1 = torch.zeros_like(w1, dtype=torch.bool)
        if not sparsity.is_nm:
            saliency = (w1 ** 2 / diag1.reshape(1, -1) ** 2).reshape(-1)
            k = count_to_prune(saliency.numel(), sparsity.ratio)
            if released:
                mask1.view(-1)[:] = threshold_mask(saliency, sparsity.ratio)
            elif k > 0:
                order = torch.sort(saliency, stable=True).indices[:k]
                mask1.view(-1)[order] = True
        for i in range(count):
            if sparsity.is_nm and i % sparsity.m == 0:
                # N:M groups are chosen on the weights as updated so far, like the reference.
                group = w1[:, i:i + sparsity.m] ** 2 / diag1[i:i + sparsity.m].reshape(1, -1) ** 2
                low = torch.sort(group, dim=1, stable=True).indices[:, :sparsity.n]
                mask1[:, i:i + sparsity.m].scatter_(1, low, True)
            col = w1[:, i]
            d = hinv1[i, i]
            q = col.clone()
            q[mask1[:, i]] = 0.0
            q1[:, i] = q
            err = (col - q) / d
            w1[:, i:] -= err.unsqueeze(1) @ hinv1[i, i:].unsqueeze(0)
            err1[:, i] = err
        w[:, i1:i2] = q1
        removed[:, i1:i2] |= mask1
        w[:, i2:] -= err1 @ h_inv[i1:i2, i2:]
    return w.to(weight.dtype), removed
