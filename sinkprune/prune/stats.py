"""Statistics of the dense model that pruning methods take from the calibration batch.

Shared by the sink-aware methods (computed once per model; shared.pt), for each calibration
sequence and each sampled timestep t (docs/method.md §1–2, §4):
1. forward-noise the sequence (LLaDA: every position may be masked; Dream: never the first and
   last; a model without a mask token — causal reference — sees its clean input),
2. a forward pass under ``observe_attention`` gives the received mass m_t → sink score s_t;
   ``s̄ = mean_t s_t`` and ω̄ = 1 − s̄ (sink-aware SparseGPT needs nothing more).

Each method's own statistics are computed in its job, once, on the dense model:
3. sink-aware Wanda: once all T scores of a sequence exist (the ``unstable`` gate needs them
   all), a second forward pass on each same noisy input accumulates, for every linear layer,
   ``acc_j += ‖ω_t ⊙ X_t[:, j]‖₂`` (released sink-aware Wanda) — :func:`sink_wanda_accumulators`,
4. structured (sink-aware): a clean pass stores ``Σ X_c²`` (``Σ (ω̄ X)_c²``) of every
   down-projection input — :func:`channel_norms`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sinkprune.models.noising import forward_noise, sampled_timesteps
from sinkprune.prune.capture import all_linear_modules, chunk_slices, input_hooks
from sinkprune.prune.importance import sequence_norms, sum_squares
from sinkprune.prune.settings import BATCH_SIZE, SinkSettings
from sinkprune.sinks.scores import sink_scores, stable_sink_gate, token_weights

FORMAT_VERSION = 2


def ids_digest(ids: torch.Tensor) -> str:
    """sha256 of a calibration batch (shape, dtype and values), to tie shared.pt to its inputs."""
    ids = ids.contiguous().cpu()
    head = f"{tuple(ids.shape)}|{ids.dtype}|".encode()
    return hashlib.sha256(head + ids.numpy().tobytes()).hexdigest()


@dataclass
class SharedStats:
    """Sink scores of one dense model on one calibration batch of N sequences of length S.

    noisy: the forward-noised inputs ``[T, N, S]`` the scores came from (sink-aware Wanda runs
    them again); scores: s_t ``[T, N, S]``; stable: bool ``[N, S]`` (``gate: unstable``) or None.
    """

    timesteps: list[float]
    noisy: torch.Tensor
    scores: torch.Tensor
    stable: torch.Tensor | None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sbar(self) -> torch.Tensor:
        """``s̄ = mean_t s_t`` ``[N, S]``."""
        return self.scores.mean(dim=0)

    def omega_bar(self) -> torch.Tensor:
        """ω̄ = 1 − s̄ ``[N, S]``, 1 at stable sinks under the unstable gate (sink-aware SparseGPT)."""
        return token_weights(self.sbar, self.stable)

    def save(self, path: str | Path) -> None:
        """Write to ``path`` with ``torch.save`` (plain tensors and builtins only)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": FORMAT_VERSION, **asdict(self)}, path)

    @classmethod
    def load(cls, path: str | Path) -> "SharedStats":
        """Read a file written by :meth:`save`."""
        data = torch.load(path, weights_only=True)
        if data.pop("format", None) != FORMAT_VERSION:
            raise ValueError(f"{path}: unknown shared-statistics format; recompute with `prune stats`")
        return cls(**data)

    def check_compatible(self, ids: torch.Tensor, sinks: SinkSettings) -> None:
        """Raise if these statistics were computed on other inputs or other sink settings."""
        if self.meta.get("calib_sha256") != ids_digest(ids):
            raise ValueError("shared statistics were computed on a different calibration batch")
        if self.meta.get("sinks") != asdict(sinks):
            raise ValueError(f"shared statistics used sink settings {self.meta.get('sinks')}, "
                             f"config now has {asdict(sinks)}; recompute with `prune stats`")


def noise_protection(model: Any, seq_len: int) -> torch.Tensor | None:
    """Positions never masked ``[S]`` bool: Dream's first and last (logit_shift 1), else none."""
    if not model.logit_shift:
        return None
    protect = torch.zeros(seq_len, dtype=torch.bool)
    protect[0] = True
    protect[-1] = True
    return protect


@torch.no_grad()
def noisy_inputs(model: Any, ids: torch.Tensor, sinks: SinkSettings,
                 generator: torch.Generator) -> tuple[list[float], torch.Tensor]:
    """Timesteps and forward-noised copies of ``ids`` ``[N, S]`` → ``[T, N, S]``.

    Noise is drawn for the whole batch per timestep, so it does not depend on chunking.
    """
    steps = sampled_timesteps(sinks.diffusion_steps, sinks.sample_every)
    if model.mask_id is None:
        # Causal reference models have no mask token: their "trajectory" is the clean input.
        return steps, ids.unsqueeze(0).expand(len(steps), *ids.shape).clone()
    protect = noise_protection(model, ids.shape[1])
    noisy = [forward_noise(ids, t, model.mask_id, eps=sinks.mask_eps, generator=generator,
                           protect=protect)[0] for t in steps]
    return steps, torch.stack(noisy)


@torch.no_grad()
def run_blocks(model: Any, ids: torch.Tensor) -> None:
    """All decoder blocks on ``ids`` ``[B, S]`` without the output head (its logits are unused)."""
    hidden, ctx = model.embed(ids)
    for i in range(model.num_layers):
        hidden = model.run_layer(i, hidden, ctx)


@torch.no_grad()
def sink_score_passes(model: Any, noisy: torch.Tensor, sinks: SinkSettings,
                      batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """s_t for every noisy input ``[T, N, S]`` → scores ``[T, N, S]`` (first forward pass)."""
    scores = torch.empty(noisy.shape, dtype=torch.float32)
    with model.observe_attention() as recorder:
        for t in range(noisy.shape[0]):
            for sl in chunk_slices(noisy.shape[1], batch_size):
                run_blocks(model, noisy[t, sl])
                scores[t, sl] = sink_scores(recorder.mass, rule=sinks.rule, alpha=sinks.alpha,
                                            k=sinks.k, eps=sinks.hard_eps)
    return scores


def stable_mask(scores: torch.Tensor, sinks: SinkSettings) -> torch.Tensor | None:
    """Stable sinks ``[N, S]`` under ``gate: unstable``, else None."""
    return stable_sink_gate(scores, tau=sinks.tau) if sinks.gate == "unstable" else None


@torch.no_grad()
def sink_wanda_accumulators(model: Any, shared: SharedStats,
                            batch_size: int = BATCH_SIZE) -> dict[str, torch.Tensor]:
    """Sink-aware Wanda's second pass on the dense model: acc ``[D_in]`` per linear ``"{layer}.{name}"``.

    Runs every noisy input of ``shared`` again, weighting tokens by ω_t = 1 − s_t.
    """
    noisy, scores, stable = shared.noisy, shared.scores, shared.stable
    linears = all_linear_modules(model)
    acc = {name: torch.zeros(m.in_features) for name, m in linears.items()}
    current: dict[str, Any] = {"x": None}

    def add_norms(name: str, x: torch.Tensor) -> None:
        # q/k/v (and gate/up) receive the same tensor: compute its weighted norms once.
        if current["x"] is not x:
            current["x"], current["norms"] = x, sequence_norms(x, current["omega"])
        acc[name] += current["norms"]

    with input_hooks(linears, add_norms):
        for t in range(noisy.shape[0]):
            omega_t = token_weights(scores[t], stable)
            for sl in chunk_slices(noisy.shape[1], batch_size):
                current["omega"], current["x"] = omega_t[sl], None
                run_blocks(model, noisy[t, sl])
    return acc


@torch.no_grad()
def channel_norms(model: Any, ids: torch.Tensor, omega: torch.Tensor | None = None,
                  batch_size: int = BATCH_SIZE) -> dict[int, torch.Tensor]:
    """Structured pruning's clean pass on the dense model: ``Σ (ω X)_c²`` ``[I]`` per layer.

    Summed over the tokens of each layer's down-projection input. ids: clean ``[N, S]``; omega:
    ω̄ ``[N, S]`` for the sink-aware variant, None for ω ≡ 1.
    """
    downs = {i: model.linear_modules(i)["down_proj"] for i in range(model.num_layers)}
    norms = {i: torch.zeros(m.in_features) for i, m in downs.items()}
    current: dict[str, Any] = {"omega": None}

    def add_channels(name: str, x: torch.Tensor) -> None:
        norms[int(name)] += sum_squares(x, current["omega"])

    with input_hooks({str(i): m for i, m in downs.items()}, add_channels):
        for sl in chunk_slices(ids.shape[0], batch_size):
            current["omega"] = None if omega is None else omega[sl]
            run_blocks(model, ids[sl])
    return norms


def compute_shared_stats(model: Any, ids: torch.Tensor, sinks: SinkSettings, seed: int,
                         batch_size: int = BATCH_SIZE) -> SharedStats:
    """Sink scores of ``model`` on calibration ``ids`` ``[N, S]`` (module docstring, steps 1–2)."""
    generator = torch.Generator().manual_seed(seed)
    steps, noisy = noisy_inputs(model, ids, sinks, generator)
    scores = sink_score_passes(model, noisy, sinks, batch_size)
    stable = stable_mask(scores, sinks)
    meta = {"calib_sha256": ids_digest(ids), "sinks": asdict(sinks), "seed": seed,
            "n_samples": int(ids.shape[0]), "seq_len": int(ids.shape[1]), "batch_size": batch_size,
            "masked_fraction": float((noisy != ids.unsqueeze(0)).float().mean())}
    return SharedStats(timesteps=steps, noisy=noisy, scores=scores, stable=stable, meta=meta)
