"""Statistics of the dense model that the pruning methods take from the calibration batch.

Shared by the sink-aware methods (computed once per model; shared.pt), for each calibration
sequence and each sampled timestep t (docs/method.md §1–2, §4):
1. forward-noise the sequence (LLaDA: every position may be masked, BOS too; Dream: never the
   first and last; a model without a mask token — causal reference — sees its clean input),
2. a forward pass under ``observe_attention`` gives the received mass m_t → sink score s_t;
   ``s̄ = mean_t s_t`` and ω̄ = 1 − s̄ (gated alike; sink-aware SparseGPT needs nothing more).

Each method's own statistics are measured in its prune job, once, on the dense model:
3. sink-aware Wanda (:func:`sink_wanda_accumulators`): once all T scores of a sequence exist
   (the ``unstable`` gate needs them all), a second forward pass on each same noisy input
   accumulates, for every linear layer, ``acc_j += ‖ω_t ⊙ X_t[:, j]‖₂`` (released sink-aware
   Wanda); the ``*_unstable`` variant weights by the paper's wording, "suppress unstable sinks"
   (ω = 1 at stable sinks, ``sinks.tau``), whatever ``sinks.gate`` says,
4. structured (:func:`channel_norms`): a clean pass stores ``Σ X_c²`` of every down-projection
   input; sink-aware structured stores ``Σ (ω̄ X)_c²`` and so also needs the sink scores.

Noise (step 1) under ``protocol: corrected``: one generator seeded with the config seed, one
draw for the whole batch per timestep (step-major), the LLaDA grid for both families. Under
``protocol: released``: the draws VILA-Lab/Sink-Aware-Pruning makes at batch size 1 — one
``rand`` of ``[1, S]`` per sample and timestep, sample-major, from the seeded stream on the
model's device (the release seeds the global generator at start-up and nothing draws from it
before the calibration passes); Dream first draws ``u0`` and uses t = (u0 + i/B) mod 1 = u0
instead of the grid, and its noisy passes mask pad tokens of the clean window out of attention.
Released passes run one sequence at a time (sample-major for step 3), so sums round as its do.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from sinkprune.chunks import chunk_slices
from sinkprune.models.noising import forward_noise, noise_protection, sampled_timesteps
from sinkprune.prune.capture import all_linear_modules, input_hooks
from sinkprune.prune.importance import sequence_norms, sum_squares
from sinkprune.prune.settings import BATCH_SIZE
from sinkprune.sinks.scores import sink_scores, stable_sink_gate, token_weights
from sinkprune.sinks.settings import SinkSettings

FORMAT_VERSION = 3


def ids_digest(ids: torch.Tensor) -> str:
    """sha256 of a calibration batch (shape, dtype and values), to tie shared.pt to its inputs."""
    ids = ids.contiguous().cpu()
    head = f"{tuple(ids.shape)}|{ids.dtype}|".encode()
    return hashlib.sha256(head + ids.numpy().tobytes()).hexdigest()


@dataclass
class SharedStats:
    """Sink scores of one dense model on one calibration batch of N sequences of length S.

    noisy: the forward-noised inputs ``[T, N, S]`` the scores came from (sink-aware Wanda runs
    them again); scores: s_t ``[T, N, S]``; stable: bool ``[N, S]`` (``gate: unstable``) or
    None; stable_sinks: the stable-sink gate of the paper's wording (``*_unstable`` methods),
    computed whatever ``sinks.gate`` says.
    """

    timesteps: list[float]
    noisy: torch.Tensor
    scores: torch.Tensor
    stable: torch.Tensor | None
    stable_sinks: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sbar(self) -> torch.Tensor:
        """``s̄ = mean_t s_t`` ``[N, S]`` (summed step by step under protocol released)."""
        return mean_over_steps(self.scores, self.released)

    def omega_bar(self, unstable: bool = False) -> torch.Tensor:
        """ω̄ = 1 − s̄ ``[N, S]`` (sink-aware SparseGPT), 1 at stable sinks under the config's
        unstable gate, or with ``unstable=True`` (paper wording, ``sink_sparsegpt_unstable``)."""
        return token_weights(self.sbar, self.stable_sinks if unstable else self.stable)

    def to(self, device: torch.device | str) -> "SharedStats":
        """The same statistics with every tensor on ``device`` (self when already there)."""
        device = torch.device(device)
        if self.scores.device == device:
            return self

        return replace(self, noisy=self.noisy.to(device), scores=self.scores.to(device),
                       stable=None if self.stable is None else self.stable.to(device),
                       stable_sinks=None if self.stable_sinks is None else self.stable_sinks.to(device))

    @property
    def released(self) -> bool:
        """Whether these scores follow ``protocol: released`` (sample-major passes at batch size 1)."""
        return self.meta.get("protocol") == "released"

    def save(self, path: str | Path) -> None:
        """Write to ``path`` with ``torch.save`` (plain tensors and builtins only, on the host)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": FORMAT_VERSION, **asdict(self.to("cpu"))}, path)

    @classmethod
    def load(cls, path: str | Path) -> "SharedStats":
        """Read a file written by :meth:`save` (tensors on the host)."""
        data = torch.load(path, weights_only=True, map_location="cpu")
        if data.pop("format", None) != FORMAT_VERSION:
            raise ValueError(f"{path}: unknown shared-statistics format; recompute with `prune stats`")
        return cls(**data)

    def check_compatible(self, ids: torch.Tensor, sinks: SinkSettings, protocol: str | None = None) -> None:
        """Raise if these statistics were computed on other inputs, protocol or sink-score settings
        (keys of the sink analysis that do not change the scores are not compared)."""
        if self.meta.get("calib_sha256") != ids_digest(ids):
            raise ValueError("shared statistics were computed on a different calibration batch")
        if protocol is not None and self.meta.get("protocol", "corrected") != protocol:
            raise ValueError(f"shared statistics used protocol {self.meta.get('protocol')!r}, config now has "
                             f"{protocol!r}; recompute with `prune stats`")
        if self.meta.get("sinks") != sinks.score_dict():
            raise ValueError(f"shared statistics used sink settings {self.meta.get('sinks')}, "
                             f"config now has {sinks.score_dict()}; recompute with `prune stats`")


def mean_over_steps(scores: torch.Tensor, sequential: bool = False) -> torch.Tensor:
    """``mean_t s_t`` of ``[T, N, S]``; ``sequential`` adds step by step, then divides by T, as
    the released sink-aware SparseGPT aggregates its masks (the sum rounds as its does)."""
    if not sequential:
        return scores.mean(dim=0)
    total = torch.zeros_like(scores[0])
    for step in scores:
        total += step
    return total / float(scores.shape[0])


@torch.no_grad()
def noisy_inputs(model: Any, ids: torch.Tensor, sinks: SinkSettings,
                 generator: torch.Generator) -> tuple[list[float], torch.Tensor]:
    """Timesteps and forward-noised copies of ``ids`` ``[N, S]`` → ``[T, N, S]`` on ``ids``' device.

    Noise is drawn for the whole batch per timestep, so it does not depend on chunking, and
    from ``generator`` (on the host), so it does not depend on the model's device either.
    """
    steps = sampled_timesteps(sinks.diffusion_steps, sinks.sample_every)
    if model.mask_id is None:
        # Causal reference models have no mask token: their "trajectory" is the clean input.
        return steps, ids.unsqueeze(0).expand(len(steps), *ids.shape).clone()
    protect = noise_protection(model, ids, protect_bos=False)  # BOS maskable, as in the release
    noisy = [forward_noise(ids, t, model.mask_id, eps=sinks.mask_eps, generator=generator,
                           protect=protect)[0] for t in steps]
    return steps, torch.stack(noisy)


@torch.no_grad()
def released_noisy_inputs(model: Any, ids: torch.Tensor, sinks: SinkSettings,
                          seed: int) -> tuple[list[float], torch.Tensor]:
    """The released code's noised copies of ``ids`` ``[N, S]`` → ``[T, N, S]`` (protocol: released).

    VILA-Lab/Sink-Aware-Pruning (``_forward_diffusion`` at its default batch size 1): for each
    sample, for each step k, ``rand_like`` of ``[1, S]`` from the seeded stream, masked where
    below p = (1 − eps)·k/steps + eps. Dream draws ``u0`` first and uses t = (u0 + 0/1) mod 1 and
    never masks the first and last position. The expressions are the release's own, so float
    rounding of p is the same. Draws are made on the model's device as the release's are (CUDA
    and CPU streams differ for the same seed).
    """
    steps = sampled_timesteps(sinks.diffusion_steps, sinks.sample_every)
    if model.mask_id is None:
        return steps, ids.unsqueeze(0).expand(len(steps), *ids.shape).clone()
    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    eps, total = sinks.mask_eps, sinks.diffusion_steps
    protect = noise_protection(model, ids, protect_bos=False).to(device)  # the release's rule
    noisy = torch.empty((len(steps), *ids.shape), dtype=ids.dtype, device="cpu")
    for n in range(ids.shape[0]):
        row = ids[n:n + 1].to(device)
        for j, step in enumerate(range(sinks.sample_every, total + 1, sinks.sample_every)):
            if model.logit_shift:  # Dream
                u0 = torch.rand(1, generator=generator, device=device, dtype=torch.float32)
                t = (u0 + torch.arange(1, device=device, dtype=torch.float32) / 1) % 1
                p_mask = ((1.0 - eps) * t + eps)[:, None].repeat(1, row.shape[1])
            else:
                p_mask = (1.0 - eps) * (float(step) / float(total)) + eps
            mask = torch.rand(row.shape, generator=generator, device=device, dtype=torch.float32) < p_mask
            mask &= ~protect[n:n + 1]
            noisy[j, n] = torch.where(mask, torch.tensor(model.mask_id, device=device), row)[0].cpu()
    return steps, noisy


def pad_keys(model: Any, ids: torch.Tensor, released: bool) -> torch.Tensor | None:
    """Pad positions of clean ``ids`` ``[B, S]`` to hide from attention, or None.

    Only released Dream statistics passes mask pads (its ``_make_attention_mask``); the released
    LLaDA code and the corrected protocol attend to every position.
    """
    if not (released and model.family == "dream" and model.pad_id is not None):
        return None
    pads = ids == model.pad_id
    return pads if bool(pads.any()) else None


def hide_keys(model: Any, ctx: Any, pads: torch.Tensor | None) -> Any:
    """``ctx`` with pad keys ``[B, S]`` given the dtype's minimum in the additive attention mask."""
    if pads is None:
        return ctx
    batch, seq = pads.shape
    blocked = pads.to(ctx.attention_mask.device)[:, None, None, :].expand(batch, 1, seq, seq)
    mask = ctx.attention_mask.expand(batch, 1, seq, seq).masked_fill(blocked, torch.finfo(model.dtype).min)
    return replace(ctx, attention_mask=mask)


@torch.no_grad()
def run_blocks(model: Any, ids: torch.Tensor, pads: torch.Tensor | None = None) -> None:
    """All decoder blocks on ``ids`` ``[B, S]`` without the output head (its logits are unused).

    pads: optional bool ``[B, S]`` of keys hidden from attention (:func:`pad_keys`).
    """
    hidden, ctx = model.embed(ids)
    ctx = hide_keys(model, ctx, pads)
    for i in range(model.num_layers):
        hidden = model.run_layer(i, hidden, ctx)


@torch.no_grad()
def sink_score_passes(model: Any, noisy: torch.Tensor, sinks: SinkSettings,
                      batch_size: int = BATCH_SIZE, pads: torch.Tensor | None = None) -> torch.Tensor:
    """s_t for every noisy input ``[T, N, S]`` → scores ``[T, N, S]`` float32 (first forward pass).

    pads: optional bool ``[N, S]`` of keys hidden from attention (released Dream).
    """
    scores = torch.empty(noisy.shape, dtype=torch.float32, device=model.device)
    with model.observe_attention() as recorder:
        for t in range(noisy.shape[0]):
            for sl in chunk_slices(noisy.shape[1], batch_size):
                run_blocks(model, noisy[t, sl], None if pads is None else pads[sl])
                scores[t, sl] = sink_scores(recorder.mass, rule=sinks.rule, alpha=sinks.alpha,
                                            k=sinks.k, eps=sinks.hard_eps)
    return scores


def stable_mask(scores: torch.Tensor, sinks: SinkSettings) -> torch.Tensor | None:
    """Stable sinks ``[N, S]`` under ``gate: unstable``, else None."""
    return stable_sink_gate(scores, tau=sinks.tau) if sinks.gate == "unstable" else None


def passes_batch_size(released: bool) -> int:
    """Sequences per forward pass: the release's default of 1 under ``released`` (its sums round
    as ours then do), else :data:`BATCH_SIZE`."""
    return 1 if released else BATCH_SIZE


@torch.no_grad()
def sink_wanda_accumulators(model: Any, ids: torch.Tensor, shared: SharedStats,
                            unstable: bool = False) -> dict[str, torch.Tensor]:
    """Second pass on the dense model (step 3): acc per linear ``"{layer}.{name}"`` ``[D_in]`` float32.

    Runs every noisy input of ``shared`` (on the model's device) again, weighting tokens by
    ω_t = 1 − s_t, 1 at stable sinks under the config's gate or, with ``unstable``, under the
    paper's wording. ids: the clean calibration batch ``[N, S]`` (released Dream hides its pad
    keys). Under ``released`` the passes go sample by sample and step by step at batch size 1
    (the released order of the sums); else step-major over chunks.
    """
    released = shared.released
    noisy, scores = shared.noisy, shared.scores
    pads = pad_keys(model, ids, released)
    linears = all_linear_modules(model)
    # float32 accumulators on the model's device, whatever the model's dtype (released code).
    acc = {name: torch.zeros(m.in_features, device=m.weight.device) for name, m in linears.items()}
    current: dict[str, Any] = {"x": None}

    def add_norms(name: str, x: torch.Tensor) -> None:
        # q/k/v (and gate/up) receive the same tensor: compute its weighted norms once.
        if current["x"] is not x:
            current["x"], current["norms"] = x, sequence_norms(x, current["omega"])
        acc[name] += current["norms"]

    omega = token_weights(scores, shared.stable_sinks if unstable else shared.stable)
    passes = ([(t, slice(n, n + 1)) for n in range(noisy.shape[1]) for t in range(noisy.shape[0])] if released
              else [(t, sl) for t in range(noisy.shape[0]) for sl in chunk_slices(noisy.shape[1], BATCH_SIZE)])
    with input_hooks(linears, add_norms):
        for t, sl in passes:
            current["omega"], current["x"] = omega[t, sl], None
            run_blocks(model, noisy[t, sl], None if pads is None else pads[sl])
    return acc


@torch.no_grad()
def channel_norms(model: Any, ids: torch.Tensor, omega: torch.Tensor | None = None,
                  released: bool = False) -> dict[int, torch.Tensor]:
    """Clean pass on the dense model (step 4): ``Σ (ω X)_c²`` ``[I]`` float32 of each layer's
    down-projection input.

    ids: clean ``[N, S]`` on the model's device; omega: ω̄ ``[N, S]`` (sink-aware structured) or
    None for ω ≡ 1; ``released``: one sequence per pass.
    """
    downs = {i: model.linear_modules(i)["down_proj"] for i in range(model.num_layers)}
    norms = {i: torch.zeros(m.in_features, device=m.weight.device) for i, m in downs.items()}
    current: dict[str, Any] = {"omega": None}

    def add_channels(name: str, x: torch.Tensor) -> None:
        norms[int(name)] += sum_squares(x, current["omega"])

    with input_hooks({str(i): m for i, m in downs.items()}, add_channels):
        for sl in chunk_slices(ids.shape[0], passes_batch_size(released)):
            current["omega"] = None if omega is None else omega[sl]
            run_blocks(model, ids[sl])
    return norms


def compute_shared_stats(model: Any, ids: torch.Tensor, sinks: SinkSettings, seed: int,
                         batch_size: int = BATCH_SIZE, protocol: str = "corrected") -> SharedStats:
    """Sink scores of ``model`` on calibration ``ids`` ``[N, S]`` (module docstring, steps 1–2).

    Noise is drawn on the host (``released``: on the model's device, as the release draws it);
    the passes run on the model's device; the result is on the host.
    """
    released = protocol == "released"
    ids = ids.cpu()
    if released:
        steps, noisy = released_noisy_inputs(model, ids, sinks, seed)
        batch_size = passes_batch_size(released)
    else:
        steps, noisy = noisy_inputs(model, ids, sinks, torch.Generator().manual_seed(seed))
    pads = pad_keys(model, ids, released)
    scores = sink_score_passes(model, noisy.to(model.device), sinks, batch_size, pads)
    meta = {"calib_sha256": ids_digest(ids), "sinks": sinks.score_dict(), "seed": seed, "protocol": protocol,
            "n_samples": int(ids.shape[0]), "seq_len": int(ids.shape[1]), "batch_size": batch_size,
            "masked_fraction": float((noisy != ids.unsqueeze(0)).float().mean())}
    return SharedStats(timesteps=steps, noisy=noisy, scores=scores, stable=stable_mask(scores, sinks),
                       stable_sinks=stable_sink_gate(scores, tau=sinks.tau), meta=meta).to("cpu")
