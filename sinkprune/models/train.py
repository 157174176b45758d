"""Train the mini zoo inside the DAG: autoregressive or masked-diffusion objective.

Objectives (docs/method.md §2; the mini settings and why: docs/mini.md):
- ``ar``: next-token cross-entropy (causal families).
- ``mdm``: LLaDA's masked-diffusion loss. t ~ U(0, 1), each token (BOS excepted) masked with
  p = (1 − eps)·t + eps, cross-entropy on masked tokens divided by p, averaged over all tokens.
  Families with shifted logits (Dream) read predictions through ``position_logits``, and never
  mask the first and last positions, as Dream does.
- Variable length: LLaDA pretrains 1 % of its sequences at a random length in [1, 4096] so the
  bidirectional model also works on inputs shorter than its context. Evaluation here scores
  short sequences (a 0-shot mini item is ~20 tokens), so a larger share of steps
  (``short_fraction``) uses one random length in [``min_len``, seq_len] for the whole batch.
- SFT-style rows (``sft_fraction``, ``mdm`` only): that share of each batch's skill rows is
  noised as LLaDA's SFT noises a response: prompts stay visible, only each answer and its line
  end may be masked (same t, p and 1/p weight). The mini tasks score an answer given its whole
  prompt; from-scratch stand-ins learn that conditional far sooner this way (docs/mini.md,
  "The zoo").
Deterministic: one seeded generator drives init, data and masking; torch threads are fixed.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from sinkprune.data.streams import sample_windows, window_index, with_bos
from sinkprune.models.noising import forward_noise


@dataclass(frozen=True)
class TrainSettings:
    """One model's training hyperparameters (config ``models.<name>.train``)."""

    objective: str
    steps: int
    batch_size: int
    lr: float
    warmup: int
    text_fraction: float
    seq_len: int
    seed: int
    weight_decay: float = 0.01
    mask_eps: float = 1e-3
    image_fraction: float = 0.0
    short_fraction: float = 0.0
    min_len: int = 16
    sft_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.short_fraction > 0 and not 2 <= self.min_len <= self.seq_len:
            raise ValueError(f"train.min_len must be in [2, data.seq_len={self.seq_len}], got {self.min_len}")
        if self.sft_fraction > 0 and self.objective != "mdm":
            raise ValueError(f"train.sft_fraction applies to the mdm objective, not {self.objective!r}")

    @classmethod
    def from_config(cls, train: dict, seq_len: int, seed: int) -> "TrainSettings":
        """Build from the config's ``train`` mapping (keys as in the schema)."""
        keys = {f for f in cls.__dataclass_fields__} - {"seq_len", "seed"}
        return cls(**{k: train[k] for k in keys if k in train}, seq_len=seq_len, seed=seed)


def lr_at(step: int, settings: TrainSettings) -> float:
    """Linear warm-up then cosine decay to 10 % of the peak."""
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def step_length(settings: TrainSettings, generator: torch.Generator) -> int:
    """Sequence length of one step: ``seq_len``, or with probability ``short_fraction`` a
    uniform length in [``min_len``, ``seq_len``] (one draw per step, so batches stay rectangular)."""
    if settings.short_fraction <= 0:
        return settings.seq_len
    if float(torch.rand((), generator=generator)) >= settings.short_fraction:
        return settings.seq_len
    return int(torch.randint(settings.min_len, settings.seq_len + 1, (), generator=generator))


def batch_of(streams: dict[str, torch.Tensor], settings: TrainSettings, bos_id: int,
             generator: torch.Generator, seq_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch [B, seq_len] (default ``settings.seq_len``): shares of text and
    image windows, the rest skills; and a bool ``[B, seq_len]`` of the positions noising may
    mask: all but BOS, except in SFT-style rows (the first ``sft_fraction`` of the skill rows),
    where only answers and their line ends may be masked."""
    n_text = round(settings.batch_size * settings.text_fraction)
    n_images = round(settings.batch_size * settings.image_fraction)
    n_skills = settings.batch_size - n_text - n_images
    if n_skills < 0:
        raise ValueError("train.text_fraction + train.image_fraction must not exceed 1")
    if n_images and "images" not in streams:
        raise ValueError("train.image_fraction > 0 needs image data: set config 'data.images'")
    n_sft = round(n_skills * settings.sft_fraction)
    if n_sft and "skill_answers" not in streams:
        raise ValueError("train.sft_fraction > 0 needs the skill answer flags: the streams file predates "
                         "them, rerun the data stage (streams.pt)")
    length = (seq_len or settings.seq_len) - 1
    parts = []
    if n_text:
        parts.append(sample_windows(streams["text"], None, n_text, length, generator))
    if n_images:
        parts.append(sample_windows(streams["images"], streams["image_starts"], n_images, length, generator))
    maskable = torch.ones(settings.batch_size, length, dtype=torch.bool)
    if n_skills:
        index = window_index(streams["skills"].numel(), streams["skill_starts"], n_skills, length, generator)
        parts.append(streams["skills"][index])
        first = n_text + n_images
        if n_sft:
            maskable[first:first + n_sft] = streams["skill_answers"][index[:n_sft]]
    ids = with_bos(torch.cat(parts), bos_id)
    return ids, torch.cat([torch.zeros(settings.batch_size, 1, dtype=torch.bool), maskable], dim=1)


def ar_loss(model, ids: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy."""
    logits = model(ids)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def mdm_loss(model, ids: torch.Tensor, generator: torch.Generator, eps: float,
             maskable: torch.Tensor | None = None) -> torch.Tensor:
    """LLaDA masked-diffusion loss, Σ_masked CE / p over all B·S tokens.

    ``maskable``: optional bool ``[B, S]`` of positions noising may mask (default: all).
    """
    batch, seq = ids.shape
    t = torch.rand(batch, generator=generator)
    protect = torch.zeros(batch, seq, dtype=torch.bool) if maskable is None else ~maskable
    protect[:, 0] = True  # BOS stays visible, as in LLaDA's and Dream's pretraining data
    if model.logit_shift:
        protect[:, -1] = True
    noisy, masked, p = forward_noise(ids, t, model.mask_id, eps, generator, protect)
    logits = model.position_logits(noisy)
    token_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1), reduction="none")
    token_loss = token_loss.view(batch, seq) * masked / p
    return token_loss.sum() / (batch * seq)


def train(model, streams: dict[str, torch.Tensor], settings: TrainSettings, log_every: int = 50,
          on_log: Callable[[dict], None] | None = None) -> list[dict]:
    """Train ``model`` in place; returns the loss log (deterministic values only, no times).

    ``on_log`` is called with each log entry as it is written (bench scripts probe the
    model there; it must leave the model in train mode and draw on no RNG the run uses).
    """
    generator = torch.Generator().manual_seed(settings.seed)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=settings.lr, betas=(0.9, 0.95))
    if settings.objective not in ("ar", "mdm"):
        raise ValueError(f"train.objective must be 'ar' or 'mdm', got {settings.objective!r}")
    model.train()
    log, running = [], 0.0
    for step in range(settings.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, settings)
        ids, maskable = batch_of(streams, settings, model.bos_id, generator, step_length(settings, generator))
        if settings.objective == "ar":
            loss = ar_loss(model, ids)
        else:
            loss = mdm_loss(model, ids, generator, settings.mask_eps, maskable)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running += loss.item()
        if (step + 1) % log_every == 0 or step + 1 == settings.steps:
            n = (step % log_every) + 1
            log.append({"step": step + 1, "loss": round(running / n, 6)})
            running = 0.0
            if on_log is not None:
                on_log(log[-1])
    model.eval()
    return log


def copy_tokenizer(tokenizer_dir: str | Path, out_dir: str | Path) -> None:
    """Ship the tokenizer files inside a checkpoint directory, as Hugging Face checkpoints do."""
    for f in sorted(Path(tokenizer_dir).iterdir()):
        if f.is_file():
            shutil.copyfile(f, Path(out_dir) / f.name)


def timed_train(model, streams, settings) -> tuple[list[dict], float]:
    """:func:`train` plus its wall time (reported in the log file, kept out of results)."""
    start = time.perf_counter()
    log = train(model, streams, settings)
    return log, time.perf_counter() - start


def write_train_log(path: str | Path, log: list[dict], settings: TrainSettings, n_params: int) -> None:
    """Loss curve and settings as JSON (no timestamps, so reruns are byte-identical)."""
    Path(path).write_text(json.dumps({"settings": settings.__dict__, "parameters": n_params, "loss": log},
                                     indent=2, sort_keys=True) + "\n")
