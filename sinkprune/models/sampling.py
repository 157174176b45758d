"""Generation with each family's sampler: LLaDA low-confidence remasking, or greedy AR decoding.

Masked-diffusion families (LLaDA, Dream; ML-GSAI/LLaDA ``generate.py``): the answer starts as
``gen_length`` mask tokens and is split into blocks of ``block_length`` filled left to right;
each block gets ``steps / num_blocks`` steps, and each step commits, among still-masked
positions of the current block, the ones whose argmax prediction is most confident (softmax
probability in float64). The count per step is the block's masks divided evenly over its steps,
the remainder going to the first steps. Dream is read through ``position_logits`` (its logits
are shifted by one). One deviation: the mask token itself is never a candidate prediction, so
every mask is filled even by an untrained model.

Autoregressive families: ``gen_length`` tokens of greedy decoding (``steps`` and
``block_length`` are accepted for a uniform signature and ignored); no stop at EOS.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sinkprune.models.sink_model import SinkModel

StepCallback = Callable[[int, torch.Tensor], None]


def transfer_schedule(masked: torch.Tensor, steps: int) -> torch.Tensor:
    """Tokens to commit per row and step: ``[B, steps]`` from a block's mask flags ``[B, n]``."""
    count = masked.sum(dim=1, keepdim=True)
    schedule = (count // steps).expand(-1, steps).clone()
    remainder = (count % steps).squeeze(1)
    schedule += torch.arange(steps, device=masked.device)[None, :] < remainder[:, None]
    return schedule


def _with_gumbel_noise(logits: torch.Tensor, temperature: float,
                       generator: torch.Generator | None) -> torch.Tensor:
    # LLaDA's sampling trick in float64: argmax of exp(logits) / (-log u)^temperature.
    if temperature == 0:
        return logits
    logits = logits.to(torch.float64)
    # Drawn where the generator lives (the host for torch.Generator()), then moved to the logits.
    draw_device = generator.device if generator is not None else logits.device
    uniform = torch.rand(logits.shape, dtype=torch.float64, generator=generator, device=draw_device)
    uniform = uniform.to(logits.device)
    return logits.exp() / (-torch.log(uniform)) ** temperature


@torch.no_grad()
def _remasking(model: SinkModel, prompt: torch.Tensor, gen_length: int, steps: int, block_length: int,
               temperature: float, on_step: StepCallback | None,
               generator: torch.Generator | None, allow_mask: bool = False) -> torch.Tensor:
    if gen_length % block_length:
        raise ValueError(f"gen_length {gen_length} must be a multiple of block_length {block_length}")
    num_blocks = gen_length // block_length
    if steps < num_blocks or steps % num_blocks:
        raise ValueError(f"steps {steps} must be a positive multiple of the number of blocks {num_blocks}")
    steps_per_block = steps // num_blocks
    mask_id = model.mask_id
    batch, prompt_len = prompt.shape
    x = torch.full((batch, prompt_len + gen_length), mask_id, dtype=torch.long, device=prompt.device)
    x[:, :prompt_len] = prompt
    step = 0
    for block in range(num_blocks):
        start = prompt_len + block * block_length
        end = start + block_length
        schedule = transfer_schedule(x[:, start:end] == mask_id, steps_per_block)
        for block_step in range(steps_per_block):
            masked = x == mask_id
            logits = model.position_logits(x)
            if on_step is not None:
                on_step(step, x.clone())
            if not allow_mask:  # LLaDA's generate.py may predict (and commit) [MASK] itself
                logits[..., mask_id] = float("-inf")
            prediction = torch.argmax(_with_gumbel_noise(logits, temperature, generator), dim=-1)
            probs = torch.softmax(logits.to(torch.float64), dim=-1)
            confidence = torch.gather(probs, -1, prediction.unsqueeze(-1)).squeeze(-1)
            confidence[:, end:] = float("-inf")
            confidence = torch.where(masked, confidence, torch.full_like(confidence, float("-inf")))
            commit = torch.zeros_like(masked)
            for row in range(batch):
                chosen = torch.topk(confidence[row], k=int(schedule[row, block_step])).indices
                commit[row, chosen] = True
            x = torch.where(commit, prediction, x)
            step += 1
    return x


@torch.no_grad()
def _greedy(model: SinkModel, prompt: torch.Tensor, gen_length: int, temperature: float,
            on_step: StepCallback | None, generator: torch.Generator | None) -> torch.Tensor:
    x = prompt
    for step in range(gen_length):
        logits = model(x)[:, -1]
        if on_step is not None:
            on_step(step, x.clone())
        if temperature == 0:
            token = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            draw_device = generator.device if generator is not None else probs.device
            token = torch.multinomial(probs.to(draw_device), 1, generator=generator)[:, 0].to(x.device)
        x = torch.cat([x, token[:, None]], dim=1)
    return x


def generate(model: SinkModel, prompt_ids: torch.Tensor, gen_length: int, steps: int, block_length: int,
             temperature: float = 0.0, on_step: StepCallback | None = None,
             generator: torch.Generator | None = None, allow_mask: bool = False) -> torch.LongTensor:
    """Prompt ``[P]``, ``[1, P]`` or ``[B, P]`` → prompt plus ``gen_length`` tokens, ``[B, P + gen_length]``.

    ``on_step(step, x)`` is called once per denoising step (AR: per generated token) right after
    the model's forward pass on ``x``, the sequence as the model saw it at that step; inside
    ``model.observe_attention()`` the recorder then holds that step's attention. Deterministic at
    temperature 0; otherwise randomness comes from ``generator``. ``allow_mask`` lets the sampler
    predict the mask token and commit it, as LLaDA's ``generate.py`` (the released protocol) does;
    by default it is never predicted, so every generated position holds a real token.
    """
    prompt = prompt_ids.unsqueeze(0) if prompt_ids.dim() == 1 else prompt_ids
    prompt = prompt.to(device=model.device, dtype=torch.long)
    if gen_length <= 0:
        raise ValueError(f"gen_length must be positive, got {gen_length}")
    if model.is_causal:
        return _greedy(model, prompt, gen_length, temperature, on_step, generator)
    return _remasking(model, prompt, gen_length, steps, block_length, temperature, on_step, generator, allow_mask)
