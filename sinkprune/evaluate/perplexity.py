"""WikiText-2 perplexity as the Sink-Aware-Pruning release computes it after pruning.

The release (``main_llada.py`` ``eval_ppl_llada``, ``main_dream.py`` ``eval_ppl_dream``) reads
the first ``rows`` (128) rows of WikiText-2 raw test, joins the non-empty ones with ``"\\n"``,
tokenises once (the tokenizer's own special tokens) and scores windows: for
``i = chunk, chunk + stride, … < N − chunk`` the answer ``ids[i : i+chunk]`` is scored given the
prompt ``ids[max(0, i − (max_length − chunk)) : i]`` (1024, 64, 64). Per family:

- LLaDA (masked diffusion, ``get_ppl``): each of ``mc_num`` (8) draws masks ``k ~ U{1..chunk}``
  answer tokens (one row per draw, so no stratification) and takes the **mean** cross-entropy
  over the masked tokens (no 1/p weight); a window's log-perplexity is the mean over draws and
  the result is ``exp(mean over windows)``, a geometric mean of window perplexities. It is not
  an ELBO bound; it measures how well masked tokens are predicted at a uniform mask count.
- Dream (``get_nll_mc``, ``log_type="ftb"``): each draw masks every answer token with
  probability ``p = (1 − eps)·t + eps``, ``t ~ U(0, 1)``, except the sequence's last token; the
  window's NLL is the mean over draws with any mask of ``Σ CE / p`` (an ELBO estimate), and the
  result is ``exp(Σ NLL / Σ answer tokens)``.
- Causal families (not in the release's pruning runs): the exact NLL of each answer,
  ``exp(Σ NLL / Σ answer tokens)``.

Differences from the release, both of law-preserving kind: masks come from a generator seeded by
``seed`` and the window (the release seeds the global generator once, 2025 or the run's seed);
draws of a window share one forward batch. Under ``protocol: corrected`` the token stream starts
with BOS (as every sinkprune sequence); under ``released`` the tokenizer decides.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from sinkprune.evaluate.likelihood import request_generator


@dataclass(frozen=True)
class PerplexitySettings:
    """``eval.perplexity`` of the config (defaults: the release's values)."""

    rows: int = 128  # dataset rows (mini: lines of the held-out text) read, empty ones included
    max_length: int = 1024  # prompt + answer tokens per window
    chunk: int = 64  # answer tokens per window
    stride: int = 64
    mc_num: int = 8
    sampling_eps: float = 1e-3  # Dream's minimum mask probability
    dataset: str = "Salesforce/wikitext"
    subset: str = "wikitext-2-raw-v1"
    split: str = "test"

    @classmethod
    def from_config(cls, section: dict | None) -> "PerplexitySettings":
        settings = cls(**(section or {}))
        if settings.chunk >= settings.max_length or min(settings.chunk, settings.stride, settings.mc_num) < 1:
            raise ValueError(f"eval.perplexity: need 1 <= chunk < max_length and stride, mc_num >= 1, got {settings}")
        return settings


def release_text(lines: list[str], rows: int) -> str:
    """The first ``rows`` lines, the non-empty ones joined by newlines (the release's text)."""
    return "\n".join(line for line in lines[:rows] if line.strip())


def windows(n_tokens: int, max_length: int, chunk: int, stride: int) -> list[tuple[int, int]]:
    """(prompt start, answer start) of every window the release scores."""
    out = []
    for i in range(chunk, n_tokens - chunk, stride):
        start = max(0, i - (max_length - chunk))
        if i - start > 0 and i + chunk <= n_tokens:
            out.append((start, i))
    return out


def _llada_window(model, seq: torch.Tensor, prompt_len: int, mc_num: int, generator: torch.Generator) -> float:
    """Mean over draws of the mean CE over masked answer tokens (``get_ppl``'s log)."""
    chunk = seq.numel() - prompt_len
    masked = torch.zeros(mc_num, seq.numel(), dtype=torch.bool)
    for d in range(mc_num):
        k = int(torch.randint(1, chunk + 1, (), generator=generator))
        masked[d, prompt_len + torch.randperm(chunk, generator=generator)[:k]] = True
    clean = seq.expand(mc_num, -1)
    noisy = torch.where(masked, torch.full_like(clean, model.mask_id), clean).to(model.device)
    logits = model.position_logits(noisy, masked.to(noisy.device)).float()
    ce = F.cross_entropy(logits, clean[masked].to(logits.device), reduction="none").double().cpu()
    rows = masked.nonzero()[:, 0]
    per_draw = torch.zeros(mc_num, dtype=torch.float64).index_add_(0, rows, ce) / masked.sum(1)
    return float(per_draw.mean())


def _dream_window(model, seq: torch.Tensor, prompt_len: int, mc_num: int, eps: float,
                  generator: torch.Generator) -> float:
    """Mean over draws with a mask of ``Σ CE / p`` (``get_nll_mc``, ftb); NaN when none masks."""
    length = seq.numel()
    t = torch.rand(mc_num, generator=generator, dtype=torch.float32)
    p = (1 - eps) * t + eps
    masked = torch.rand(mc_num, length, generator=generator) < p[:, None]
    masked[:, :prompt_len] = False  # ftb: only the answer is noised
    masked[:, 0] = False
    masked[:, -1] = False  # Dream's eval keeps the last token (its EOS slot) unmasked
    keep = masked.any(1)
    if not keep.any():
        return math.nan
    masked, p = masked[keep], p[keep].double()
    clean = seq.expand(masked.shape[0], -1)
    noisy = torch.where(masked, torch.full_like(clean, model.mask_id), clean).to(model.device)
    logits = model.position_logits(noisy, masked.to(noisy.device)).float()
    ce = F.cross_entropy(logits, clean[masked].to(logits.device), reduction="none").double().cpu()
    rows = masked.nonzero()[:, 0]
    per_draw = torch.zeros(masked.shape[0], dtype=torch.float64).index_add_(0, rows, ce / p[rows])
    return float(per_draw.mean())


def _causal_window(model, seq: torch.Tensor, prompt_len: int) -> float:
    logprobs = F.log_softmax(model(seq[None].to(model.device)).double()[0], -1).cpu()
    target = seq[prompt_len:]
    return -float(logprobs[prompt_len - 1:-1].gather(-1, target[:, None]).sum())


@torch.no_grad()
def perplexity(model, ids: list[int], settings: PerplexitySettings, seed: int) -> dict:
    """The release's perplexity of token stream ``ids`` under ``model`` (formula per family, module doc).

    Windows are at most the model's context (``min(max_length, model.max_seq_len)`` tokens).
    """
    max_length = min(settings.max_length, int(getattr(model, "max_seq_len", settings.max_length)))
    if settings.chunk >= max_length:
        raise ValueError(f"eval.perplexity.chunk {settings.chunk} must be below the window length {max_length}")
    spans = windows(len(ids), max_length, settings.chunk, settings.stride)
    if not spans:
        raise ValueError(f"perplexity: {len(ids)} tokens give no window of chunk {settings.chunk}")
    formula = "causal" if model.is_causal else ("dream" if model.family == "dream" else "llada")
    values = []
    for start, i in spans:
        seq = torch.tensor(ids[start:i + settings.chunk], dtype=torch.long)
        generator = request_generator(seed, [start, i, len(ids)])
        if formula == "llada":
            values.append(_llada_window(model, seq, i - start, settings.mc_num, generator))
        elif formula == "dream":
            values.append(_dream_window(model, seq, i - start, settings.mc_num, settings.sampling_eps, generator))
        else:
            values.append(_causal_window(model, seq, i - start))
    scored = [v for v in values if not math.isnan(v)]
    if formula == "llada":
        log_ppl = sum(scored) / len(scored)  # mean of per-window log-perplexities
    else:
        log_ppl = sum(scored) / (len(scored) * settings.chunk)  # total NLL / total answer tokens
    return {"perplexity": math.exp(log_ppl), "log_perplexity": log_ppl, "formula": formula,
            "windows": len(scored), "tokens": len(ids), "max_length_used": max_length,
            "settings": asdict(settings), "seed": seed}


def token_stream(tokenizer, text: str, protocol: str, bos_id: int | None) -> list[int]:
    """The text's ids: tokenizer defaults (``released``) or BOS first and no other specials (``corrected``)."""
    if protocol == "released":
        return tokenizer(text)["input_ids"]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ([bos_id] if bos_id is not None else []) + ids


def dataset_lines(settings: PerplexitySettings, text_file: str | Path | None) -> list[str]:
    """Lines of the held-out text file (mini) or rows of the Hugging Face dataset split (paper)."""
    if text_file is not None:
        return Path(text_file).read_text(encoding="utf-8").split("\n")
    from datasets import load_dataset

    try:
        rows = load_dataset(settings.dataset, settings.subset, split=settings.split)
    except Exception as error:  # datasets raises several types for "not available offline"
        raise FileNotFoundError(f"perplexity dataset {settings.dataset}/{settings.subset} [{settings.split}] "
                                f"is not available: {error}") from None
    return list(rows["text"][:settings.rows])
