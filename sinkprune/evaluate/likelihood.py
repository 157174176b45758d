"""Log-likelihood of a continuation under a ``SinkModel``: exact (AR) or Monte Carlo (DLM).

Masked-diffusion families follow the LLaDA protocol (ML-GSAI/LLaDA ``eval_llada.py``,
``get_log_likelihood``, which the Sink-Aware-Pruning release runs unchanged): only continuation
tokens are masked; the number masked ``x`` is stratified (``k ~ U{1..T}``,
``x_b = round(linspace(k, k+(B−1)T/B))`` wrapped into ``1..T``, ``round`` half to even), the
positions are a uniform subset of that size, and the estimate is
``−mean_b Σ_masked CE / (x_b / T)``. Dream reads predictions through ``position_logits``.

Two protocols (config ``protocol``) choose the masked-count draw:
- ``released``: as LLaDA's harness, the count is stratified within each forward batch of
  ``stratum`` rows (its ``batch_size``: 8, and 1 for MMLU). When ``T`` is not a multiple of the
  stratum the marginal law of ``x`` is not uniform (T=4, 8 rows: ``x`` = 1, 2, 3, 4 with
  probabilities .125, .375, .125, .375), so the estimator's expectation is not ``E_{x~U}``.
- ``corrected``: all ``mc_num`` draws of a request are stratified together and, when
  ``2^T − 1 ≤ mc_num`` (short continuations), the expectation under a uniform ``x`` is computed
  exactly by enumerating every non-empty masked subset, weight ``(1/T)·1/C(T, x)·T/x``. This is
  the expectation of LLaDA's estimator only when its counts are uniform; it is NOT the same
  number as the released estimator's expectation (up to 0.30 nats apart on a random tiny LLaDA,
  docs/deviations.md "Evaluation"). ``masked_count_distribution`` gives both laws exactly.

Classifier-free guidance (``cfg`` w > 0, LLaDA's ``get_logits``): a second pass with every
context position (BOS included) replaced by the mask token, logits combined as
``un + (w + 1)·(cond − un)``.

In both protocols rows of many requests share a forward pass (batched by length, since padding
would change a bidirectional model's output), and each request's masks come from a generator
seeded by ``seed`` and the request's tokens, so a score does not depend on which other requests
are evaluated with it. The release draws from the global (CUDA) generator instead: its masks are
not reproduced bit for bit, only their law.

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
from fractions import Fraction

import torch
import torch.nn.functional as F

from sinkprune.chunks import chunk_slices

HOST = torch.device("cpu")
PROTOCOLS = ("released", "corrected")


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


def counts_from_start(k: int, target_len: int, draws: int) -> list[int]:
    """LLaDA's ``_forward_process`` counts of one stratified batch of ``draws`` rows, given ``k``."""
    x = torch.round(torch.linspace(float(k), k + (draws - 1) * (target_len / draws), steps=draws,
                                   device=HOST)).long()
    return (((x - 1) % target_len) + 1).tolist()


def stratified_counts(target_len: int, draws: int, generator: torch.Generator) -> list[int]:
    """Numbers of masked tokens of ``draws`` MC samples stratified together (one ``k``)."""
    k = int(torch.randint(1, target_len + 1, (), generator=generator, device=HOST))
    return counts_from_start(k, target_len, draws)


def released_counts(target_len: int, mc_num: int, stratum: int, generator: torch.Generator) -> list[int]:
    """Counts as the release draws them: a fresh stratified batch of ``stratum`` rows at a time."""
    if stratum <= 0 or mc_num % stratum:
        raise ValueError(f"mc_num {mc_num} must be a positive multiple of the stratum {stratum} "
                         "(LLaDA's harness asserts mc_num % batch_size == 0)")
    return [x for _ in range(mc_num // stratum) for x in stratified_counts(target_len, stratum, generator)]


def masked_count_distribution(target_len: int, mc_num: int, protocol: str, stratum: int | None = None,
                              enumerate_small: bool = True) -> dict[int, Fraction]:
    """Exact law of the masked count ``x`` of one estimator row, by enumerating ``k``.

    ``released``: strata of ``stratum`` rows; ``corrected``: one stratum of ``mc_num`` rows, or
    the uniform law when the subsets are enumerated. Rows within a stratum are equally likely.
    """
    if protocol == "corrected" and enumerate_small and 2 ** target_len - 1 <= mc_num:
        return {x: Fraction(1, target_len) for x in range(1, target_len + 1)}
    draws = stratum if protocol == "released" else mc_num
    if protocol not in PROTOCOLS or not draws:
        raise ValueError(f"protocol must be one of {PROTOCOLS} (released needs a stratum), got {protocol!r}")
    law: dict[int, Fraction] = defaultdict(Fraction)
    for k in range(1, target_len + 1):
        for x in counts_from_start(k, target_len, draws):
            law[x] += Fraction(1, target_len * draws)
    return dict(sorted(law.items()))


def dlm_rows(request: int, ctx_len: int, target_len: int, mc_num: int, generator: torch.Generator,
             enumerate_small: bool = True, stratum: int | None = None) -> list[Row]:
    """Rows whose weighted masked losses sum to the LLaDA estimate of −log p(continuation).

    ``stratum`` set: the released draw (strata of that many rows, no enumeration); unset: the
    corrected one (one stratum of ``mc_num`` rows, short continuations enumerated exactly).
    """
    positions = list(range(ctx_len, ctx_len + target_len))
    if stratum is None and enumerate_small and 2 ** target_len - 1 <= mc_num:
        rows = []
        for x in range(1, target_len + 1):
            # P(x) = 1/T, P(subset | x) = 1/C(T, x); the estimator divides by p_mask = x/T.
            weight = (1.0 / target_len) / math.comb(target_len, x) * (target_len / x)
            rows += [Row(request, subset, weight) for subset in itertools.combinations(positions, x)]
        return rows
    counts = (stratified_counts(target_len, mc_num, generator) if stratum is None
              else released_counts(target_len, mc_num, stratum, generator))
    rows = []
    for x in counts:
        chosen = torch.randperm(target_len, generator=generator, device=HOST)[:x].sort().values.tolist()
        rows.append(Row(request, tuple(positions[i] for i in chosen), (target_len / x) / mc_num))
    return rows


def _per_request(value, n: int, name: str) -> list:
    values = list(value) if isinstance(value, Sequence) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name}: {len(values)} values for {n} requests")
    return values


def guided_logits(model, noisy: torch.Tensor, masked: torch.Tensor, ctx_lens: Sequence[int],
                  cfg: float) -> torch.Tensor:
    """Logits ``[N, V]`` at ``masked`` positions, with LLaDA's classifier-free guidance when ``cfg > 0``.

    The unconditional pass sees every context position (``< ctx_len`` of its row) as the mask
    token; logits combine as ``un + (cfg + 1)·(cond − un)`` (LLaDA ``get_logits``).
    """
    cond = model.position_logits(noisy, masked).float()
    if cfg <= 0:
        return cond
    width = noisy.shape[1]
    prompt = torch.arange(width, device=noisy.device)[None, :] < torch.tensor(list(ctx_lens), device=noisy.device)[:, None]
    uncond_input = torch.where(prompt, torch.full_like(noisy, model.mask_id), noisy)
    un = model.position_logits(uncond_input, masked).float()
    return un + (cfg + 1.0) * (cond - un)


@torch.no_grad()
def dlm_loglikelihoods(model, sequences: list[list[int]], ctx_lens: list[int], mc_num: int | Sequence[int],
                       batch_size: int, seed: int, enumerate_small: bool = True,
                       cfg: float | Sequence[float] = 0.0, protocol: str = "corrected") -> list[float]:
    """LLaDA-protocol log-likelihood of ``seq[ctx_len:]`` given ``seq[:ctx_len]`` for each sequence.

    ``mc_num`` and ``cfg`` are one value or one per request. Rows of equal length and guidance
    from all requests are stacked into forward batches of ``batch_size``. Under ``released`` the
    masked counts are stratified within strata of ``min(batch_size, mc_num)`` rows, as LLaDA's
    harness stratifies within its batch (whose ``batch_size`` the release sets to 8, 1 for MMLU).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    mc_nums = [int(m) for m in _per_request(mc_num, len(sequences), "mc_num")]
    cfgs = [float(w) for w in _per_request(cfg, len(sequences), "cfg")]
    rows_by_key: dict[tuple[int, float], list[Row]] = defaultdict(list)
    for r, (seq, ctx_len) in enumerate(zip(sequences, ctx_lens)):
        target_len = len(seq) - ctx_len
        if target_len <= 0:
            raise ValueError(f"request {r} has an empty continuation")
        gen = request_generator(seed, seq + [ctx_len])
        stratum = min(batch_size, mc_nums[r]) if protocol == "released" else None
        rows_by_key[(len(seq), cfgs[r])] += dlm_rows(r, ctx_len, target_len, mc_nums[r], gen, enumerate_small,
                                                     stratum)
    totals = torch.zeros(len(sequences), dtype=torch.float64, device=HOST)
    for key in sorted(rows_by_key):
        key_rows = rows_by_key[key]
        for chunk in (key_rows[sl] for sl in chunk_slices(len(key_rows), batch_size)):
            clean = torch.tensor([sequences[row.request] for row in chunk], dtype=torch.long, device=HOST)
            masked = torch.zeros_like(clean, dtype=torch.bool)
            for i, row in enumerate(chunk):
                masked[i, list(row.masked)] = True
            noisy = torch.where(masked, torch.full_like(clean, model.mask_id), clean).to(model.device)
            logits = guided_logits(model, noisy, masked.to(noisy.device),
                                   [ctx_lens[row.request] for row in chunk], key[1])  # masked rows only
            ce = F.cross_entropy(logits, clean[masked].to(logits.device), reduction="none").double().cpu()
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
    for chunk in (order[sl] for sl in chunk_slices(len(order), batch_size)):
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
