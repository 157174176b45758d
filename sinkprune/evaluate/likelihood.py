"""Log-likelihood of a continuation under a ``SinkModel``: exact (AR) or Monte Carlo (DLM).

Masked-diffusion families follow the LLaDA protocol (ML-GSAI/LLaDA ``eval_llada.py``,
``get_log_likelihood``): only continuation tokens are masked; the number masked ``x`` is
stratified over the ``mc_num`` draws (``k ~ U{1..T}``, ``x_b = round(linspace(k, k+(B−1)T/B))``
wrapped into ``1..T``), the positions are a uniform subset of that size, and the estimate is
``−mean_b Σ_masked CE / (x_b / T)``. Dream reads predictions through ``position_logits``.

Two choices of ours, both exact with respect to LLaDA's estimator:
- When ``2^T − 1 ≤ mc_num`` (short continuations, e.g. one-digit answers), the estimator's
  expectation is computed exactly by enumerating every non-empty masked subset, weighted by its
  probability under the protocol ``(1/T)·1/C(T, x)``; this removes the Monte Carlo noise at no
  more forward passes than Monte Carlo would use (``enumerate_small=False`` restores sampling).
- LLaDA stratifies within each forward batch; here all ``mc_num`` draws of a request are
  stratified together and rows of many requests share a forward pass (batched by length,
  since padding would change a bidirectional model's output).

Randomness: each request's masks come from a generator seeded by ``seed`` and the request's
tokens, so a score does not depend on which other requests are evaluated with it.

Devices: masks are drawn and batches built on the host (``HOST``), then copied to the model's
device in one transfer; losses come back to the host and are summed there in float64, so the
bookkeeping is the same whichever device the model runs on.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

HOST = torch.device("cpu")


@dataclass(frozen=True)
class Row:
    """One forward-pass row of a DLM estimate: masked positions and their weight."""

    request: int
    masked: tuple[int, ...]  # positions (within the full sequence) replaced by the mask token
    weight: float  # multiplies Σ CE over masked positions


def request_generator(seed: int, tokens: Sequence[int]) -> torch.Generator:
    """Generator seeded by ``seed`` and the request's tokens (order-independent randomness)."""
    digest = zlib.crc32(bytes(str(seed), "ascii") + b":" + b",".join(str(t).encode() for t in tokens))
    return torch.Generator().manual_seed(digest)


def stratified_counts(target_len: int, draws: int, generator: torch.Generator) -> list[int]:
    """Numbers of masked tokens of ``draws`` MC samples, as LLaDA's ``_forward_process``."""
    k = int(torch.randint(1, target_len + 1, (), generator=generator, device=HOST))
    x = torch.round(torch.linspace(float(k), k + (draws - 1) * (target_len / draws), steps=draws,
                                   device=HOST)).long()
    return (((x - 1) % target_len) + 1).tolist()


def dlm_rows(request: int, ctx_len: int, target_len: int, mc_num: int, generator: torch.Generator,
             enumerate_small: bool = True) -> list[Row]:
    """Rows whose weighted masked losses sum to the LLaDA estimate of −log p(continuation)."""
    positions = list(range(ctx_len, ctx_len + target_len))
    if enumerate_small and 2 ** target_len - 1 <= mc_num:
        rows = []
        for x in range(1, target_len + 1):
            # P(x) = 1/T, P(subset | x) = 1/C(T, x); the estimator divides by p_mask = x/T.
            weight = (1.0 / target_len) / math.comb(target_len, x) * (target_len / x)
            rows += [Row(request, subset, weight) for subset in itertools.combinations(positions, x)]
        return rows
    rows = []
    for x in stratified_counts(target_len, mc_num, generator):
        chosen = torch.randperm(target_len, generator=generator, device=HOST)[:x].sort().values.tolist()
        rows.append(Row(request, tuple(positions[i] for i in chosen), (target_len / x) / mc_num))
    return rows


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@torch.no_grad()
def dlm_loglikelihoods(model, sequences: list[list[int]], ctx_lens: list[int], mc_num: int, batch_size: int,
                       seed: int, enumerate_small: bool = True) -> list[float]:
    """LLaDA-protocol log-likelihood of ``seq[ctx_len:]`` given ``seq[:ctx_len]`` for each sequence.

    Rows of equal length from all requests are stacked into forward batches of ``batch_size``.
    """
    rows_by_len: dict[int, list[Row]] = defaultdict(list)
    for r, (seq, ctx_len) in enumerate(zip(sequences, ctx_lens)):
        target_len = len(seq) - ctx_len
        if target_len <= 0:
            raise ValueError(f"request {r} has an empty continuation")
        gen = request_generator(seed, seq + [ctx_len])
        rows_by_len[len(seq)] += dlm_rows(r, ctx_len, target_len, mc_num, gen, enumerate_small)
    totals = torch.zeros(len(sequences), dtype=torch.float64, device=HOST)
    for length in sorted(rows_by_len):
        for chunk in _chunks(rows_by_len[length], batch_size):
            clean = torch.tensor([sequences[row.request] for row in chunk], dtype=torch.long, device=HOST)
            masked = torch.zeros_like(clean, dtype=torch.bool)
            for i, row in enumerate(chunk):
                masked[i, list(row.masked)] = True
            noisy = torch.where(masked, torch.full_like(clean, model.mask_id), clean).to(model.device)
            logits = model.position_logits(noisy, masked.to(noisy.device))  # masked rows only
            ce = F.cross_entropy(logits.float(), clean[masked].to(logits.device), reduction="none").double().cpu()
            per_row = torch.zeros(len(chunk), dtype=torch.float64, device=HOST).index_add_(
                0, masked.nonzero()[:, 0], ce)
            weights = torch.tensor([row.weight for row in chunk], dtype=torch.float64, device=HOST)
            requests = torch.tensor([row.request for row in chunk], device=HOST)
            totals.index_add_(0, requests, per_row * weights)
    return (-totals).tolist()


@torch.no_grad()
def ar_loglikelihoods(model, sequences: list[list[int]], ctx_lens: list[int],
                      batch_size: int) -> list[tuple[float, bool]]:
    """Exact log-likelihood and greedy flag of ``seq[ctx_len:]`` for a causal model.

    Right padding is exact for causal attention (earlier positions never see it).
    """
    order = sorted(range(len(sequences)), key=lambda r: -len(sequences[r]))
    out: list[tuple[float, bool]] = [(0.0, False)] * len(sequences)
    pad = model.pad_id if model.pad_id is not None else 0
    for chunk in _chunks(order, batch_size):
        width = max(len(sequences[r]) for r in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long, device=HOST)
        for i, r in enumerate(chunk):
            ids[i, :len(sequences[r])] = torch.tensor(sequences[r], device=HOST)
        # Scored where the logits are: only the scores, not [B, S, V] float64, come back.
        logprobs = F.log_softmax(model(ids.to(model.device)).double(), dim=-1)
        for i, r in enumerate(chunk):
            seq, start = sequences[r], ctx_lens[r]
            target = torch.tensor(seq[start:], device=logprobs.device)
            rows = logprobs[i, start - 1:len(seq) - 1]  # row p−1 predicts token p
            score = rows.gather(-1, target[:, None]).sum().item()
            greedy = bool((rows.argmax(-1) == target).all())
            out[r] = (score, greedy)
    return out
