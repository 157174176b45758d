"""Received-mass trajectories of one model (docs/method.md §2): noised, generate, ar_prefix.

Each timestep costs exactly one forward pass run under ``model.observe_attention()``, whose
eager attention reduces each layer's softmax matrix to received mass ``[B, H, S]`` before the
next layer runs (the S×S matrices are never kept). Sequences go through in chunks of
``BATCH_SIZE`` so results do not depend on memory.

How AR and DLM are made comparable: a DLM's noised trajectory visits T = diffusion_steps /
sample_every noise levels t ∈ {0.1, …, 1.0} on full-length sequences; an AR model's
``ar_prefix`` trajectory visits the same number T of decoding prefixes of length
ℓ_t = max(1, round(t·S)) of the same calibration sequences (the AR model at ℓ_t has seen the
share t of the sequence; the DLM at noise t has the share 1 − t unmasked). Positional variances
are divided by S² of the full sequence in both cases, and the random-position control is computed
over the positions that exist at each step (``baseline.py``), so the prefix's growth is in the
control too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sinkprune.chunks import chunk_slices
from sinkprune.models.noising import forward_noise, noise_protection, sampled_timesteps
from sinkprune.sinks.kinds import load_punctuation, token_kinds
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.store import Trajectory

BATCH_SIZE = 8


@torch.no_grad()
def observed_mass(model: Any, ids: torch.Tensor) -> np.ndarray:
    """One observed forward pass per chunk: ``ids`` ``[N, S]`` → per-head mass ``[N, L, H, S]`` float32."""
    out = []
    with model.observe_attention() as recorder:
        for sl in chunk_slices(ids.shape[0], BATCH_SIZE):
            model(ids[sl])
            out.append(recorder.per_head.permute(1, 0, 2, 3).cpu().numpy())  # [L,B,H,S] → [B,L,H,S]
    return np.concatenate(out).astype(np.float32)


def _meta(model: Any, kind: str, settings: SinkSettings, punct: np.ndarray | None,
          **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "family": model.family, "is_causal": bool(model.is_causal), "mask_id": model.mask_id,
            "bos_id": model.bos_id, "num_layers": int(model.num_layers), "num_heads": int(model.num_heads),
            "model": str(model.source_dir) if model.source_dir is not None else None,
            "punct_known": punct is not None, "settings": settings.analysis_dict(), **extra}


def _kinds(model: Any, ids: np.ndarray, punct: np.ndarray | None) -> np.ndarray:
    return token_kinds(ids, model.bos_id, model.mask_id, punct)


def noised_trajectory(model: Any, ids: torch.Tensor, settings: SinkSettings,
                      punct: np.ndarray | None = None) -> Trajectory:
    """Calibration ``ids`` ``[N, S]`` forward-noised at each sampled t (one shared noise draw per t).

    Noise comes from a generator seeded with ``settings.seed``, so every model of a family sees
    the same noised inputs. Only for models with a mask token (DLMs).
    """
    if model.mask_id is None:
        raise ValueError(f"{model.family} has no mask token: use the ar_prefix trajectory for causal models")
    times = sampled_timesteps(settings.diffusion_steps, settings.sample_every)
    generator = torch.Generator().manual_seed(settings.seed)
    protect = noise_protection(model, ids, protect_bos=True)
    noisy = torch.stack([forward_noise(ids, t, model.mask_id, eps=settings.mask_eps, generator=generator,
                                       protect=protect)[0] for t in times])  # [T, N, S]
    mass = np.stack([observed_mass(model, x) for x in noisy])
    ids_np = noisy.numpy().astype(np.int32)
    lengths = np.full(len(times), ids.shape[1], dtype=np.int32)
    return Trajectory(mass, ids_np, _kinds(model, ids_np, punct), lengths, np.asarray(times, np.float32),
                      _meta(model, "noised", settings, punct))


def prefix_lengths(seq_len: int, settings: SinkSettings) -> list[int]:
    """ℓ_t = max(1, round(t·S)) for the same sampled t as the noised trajectory."""
    return [max(1, round(t * seq_len)) for t in sampled_timesteps(settings.diffusion_steps, settings.sample_every)]


def ar_prefix_trajectory(model: Any, ids: torch.Tensor, settings: SinkSettings,
                         punct: np.ndarray | None = None) -> Trajectory:
    """Decoding prefixes ``ids[:, :ℓ_t]`` of a causal model; mass over the prefix, zero-padded to S."""
    if not model.is_causal:
        raise ValueError(f"{model.family} is bidirectional: ar_prefix is the causal models' trajectory")
    n, seq_len = ids.shape
    lengths = prefix_lengths(seq_len, settings)
    mass = np.zeros((len(lengths), n, model.num_layers, model.num_heads, seq_len), dtype=np.float32)
    ids_np = np.full((len(lengths), n, seq_len), -1, dtype=np.int32)
    for t, length in enumerate(lengths):
        mass[t, ..., :length] = observed_mass(model, ids[:, :length])
        ids_np[t, :, :length] = ids[:, :length].numpy()
    return Trajectory(mass, ids_np, _kinds(model, ids_np, punct), np.asarray(lengths, np.int32),
                      np.asarray(lengths, np.float32) / seq_len, _meta(model, "ar_prefix", settings, punct))


def generate_trajectory(model: Any, ids: torch.Tensor, settings: SinkSettings,
                        punct: np.ndarray | None = None) -> Trajectory:
    """A real generation with the family's sampler from the first ``prompt_len`` tokens of each sequence.

    DLMs: low-confidence remasking (``gen_steps`` steps, blocks of ``block_length``), mass at every
    step over prompt + answer. Causal models: greedy decoding, mass over the growing sequence.
    Temperature 0, so the trajectory is deterministic.
    """
    from sinkprune.models.sampling import generate

    prompt = ids[:, :settings.prompt_len]
    steps: list[list[np.ndarray]] = []
    seen: list[list[np.ndarray]] = []
    for sl in chunk_slices(prompt.shape[0], BATCH_SIZE):
        chunk_mass: list[np.ndarray] = []
        chunk_ids: list[np.ndarray] = []
        with model.observe_attention() as recorder:
            def on_step(step: int, x: torch.Tensor) -> None:
                # Called right after the step's forward pass: the recorder holds that step's attention.
                chunk_mass.append(recorder.per_head.permute(1, 0, 2, 3).cpu().numpy())
                chunk_ids.append(x.cpu().numpy())

            generate(model, prompt[sl], settings.gen_length, settings.gen_steps, settings.block_length,
                     temperature=0.0, on_step=on_step)
        steps.append(chunk_mass)
        seen.append(chunk_ids)
    num_steps = len(steps[0])
    lengths = np.array([steps[0][t].shape[-1] for t in range(num_steps)], dtype=np.int32)
    # AR decoding never feeds its last token back, so S is the longest sequence actually seen.
    total = int(lengths.max())
    n = prompt.shape[0]
    mass = np.zeros((num_steps, n, model.num_layers, model.num_heads, total), dtype=np.float32)
    ids_np = np.full((num_steps, n, total), -1, dtype=np.int32)
    for chunk, sl in enumerate(chunk_slices(n, BATCH_SIZE)):
        for t in range(num_steps):
            mass[t, sl, ..., :lengths[t]] = steps[chunk][t]
            ids_np[t, sl, :lengths[t]] = seen[chunk][t]
    times = (np.arange(num_steps, dtype=np.float32) + 1) / num_steps
    return Trajectory(mass, ids_np, _kinds(model, ids_np, punct), lengths, times,
                      _meta(model, "generate", settings, punct, prompt_len=int(prompt.shape[1])))


TRAJECTORIES: dict[str, Callable[..., Trajectory]] = {
    "noised": noised_trajectory, "generate": generate_trajectory, "ar_prefix": ar_prefix_trajectory}


def build_trajectory(model: Any, ids: torch.Tensor, kind: str, settings: SinkSettings) -> Trajectory:
    """Trajectory ``kind`` of ``model`` on calibration ``ids`` ``[N, S]`` (first analysis_samples, capped length)."""
    if kind not in TRAJECTORIES:
        raise ValueError(f"trajectory kind must be one of {', '.join(TRAJECTORIES)}, got {kind!r}")
    ids = ids[:settings.analysis_samples]
    if settings.analysis_seq_len is not None:
        ids = ids[:, :settings.analysis_seq_len]
    punct = load_punctuation(model.source_dir, int(model.vocab_size))
    return TRAJECTORIES[kind](model, ids.long(), settings, punct)
