"""``SinkModel``: one interface over the four families, built on transformers' Llama / Qwen2.

The decoder blocks are transformers' own ``LlamaDecoderLayer`` / ``Qwen2DecoderLayer``; the
model drives them itself (``embed`` → ``run_layer`` × L → ``head``) so that pruning code can run
one layer at a time on cached inputs (the Wanda / SparseGPT "Catcher" pattern) and so the
attention direction is explicit: every layer receives a 4D additive mask, all zeros for the
bidirectional families (LLaDA, Dream) and −∞ above the diagonal for the causal ones, and the
attention modules carry the matching ``is_causal`` flag for kernels that read it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel

from sinkprune.models.attention import OBSERVED_ATTENTION, AttentionRecorder
from sinkprune.models.families import PER_LAYER_INTERMEDIATE_KEY, Family


@dataclass
class LayerContext:
    """What every decoder layer needs besides the hidden states (same for all layers)."""

    position_ids: torch.Tensor  # [1, S]
    position_embeddings: tuple[torch.Tensor, torch.Tensor]  # RoPE (cos, sin), [1, S, head_dim]
    attention_mask: torch.Tensor  # [1, 1, S, S] additive, model dtype


class SinkModel(nn.Module):
    """A language model of one family, with the layer-level API the pruning and sink code use.

    Attributes: ``family``, ``is_causal``, ``logit_shift`` (1 when position i predicts token
    i+1, Dream), ``mask_id`` / ``bos_id`` / ``eos_id`` / ``pad_id`` (None when the family or
    checkpoint has none), ``num_layers``, ``num_heads``, ``vocab_size`` (rows of the embedding
    matrix = logit width), ``max_seq_len``; ``raw_config`` is the on-disk config.json it came
    from and ``source_dir`` the directory it was loaded from (None when built).
    """

    def __init__(self, family: Family, raw_config: dict[str, Any], backbone: PreTrainedModel,
                 source_dir: Path | None = None) -> None:
        super().__init__()
        self.spec = family
        self.family = family.name
        self.is_causal = family.is_causal
        self.logit_shift = family.logit_shift
        self.raw_config = dict(raw_config)
        self.source_dir = source_dir
        self.backbone = backbone
        ids = family.special_ids(raw_config)
        self.bos_id, self.eos_id, self.pad_id = ids["bos"], ids["eos"], ids["pad"]
        # Where bos_id was read; load_model replaces both by the family's rule (special_tokens.py).
        self.bos_source = "config.json bos_token_id"
        self.mask_id = None if family.is_causal else ids["mask"]
        config = backbone.config
        self.num_layers = config.num_hidden_layers
        self.num_heads = config.num_attention_heads
        self.vocab_size = config.vocab_size
        self.max_seq_len = family.max_seq_len(raw_config)
        self.recorder: AttentionRecorder | None = None
        for layer in self.layers:
            layer.self_attn.is_causal = self.is_causal

    # ----- layer-sequential API -------------------------------------------------------------
    @property
    def layers(self) -> nn.ModuleList:
        """The decoder blocks (transformers ``LlamaDecoderLayer`` / ``Qwen2DecoderLayer``)."""
        return self.backbone.model.layers

    @property
    def dtype(self) -> torch.dtype:
        """Parameter dtype."""
        return self.backbone.model.embed_tokens.weight.dtype

    @property
    def device(self) -> torch.device:
        """Parameter device."""
        return self.backbone.model.embed_tokens.weight.device

    def attention_mask(self, seq_len: int) -> torch.Tensor:
        """Additive ``[1, 1, S, S]`` mask: zeros (bidirectional) or −∞ above the diagonal (causal)."""
        if not self.is_causal:
            # An expanded scalar: an all-zero mask that costs no S×S memory.
            return torch.zeros((), dtype=self.dtype, device=self.device).expand(1, 1, seq_len, seq_len)
        blocked = torch.ones(seq_len, seq_len, dtype=torch.bool, device=self.device).triu(1)
        mask = torch.zeros(seq_len, seq_len, dtype=self.dtype, device=self.device)
        return mask.masked_fill(blocked, torch.finfo(self.dtype).min)[None, None]

    def embed(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, LayerContext]:
        """Token embeddings ``[B, S, D]`` and the per-layer context for ``input_ids`` ``[B, S]``."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [B, S], got shape {tuple(input_ids.shape)}")
        hidden = self.backbone.model.embed_tokens(input_ids.to(self.device))
        seq_len = input_ids.shape[1]
        position_ids = torch.arange(seq_len, device=hidden.device).unsqueeze(0)
        rope = self.backbone.model.rotary_emb(hidden, position_ids=position_ids)
        return hidden, LayerContext(position_ids, rope, self.attention_mask(seq_len))

    def run_layer(self, i: int, hidden: torch.Tensor, ctx: LayerContext) -> torch.Tensor:
        """Apply decoder block ``i`` to ``hidden`` ``[B, S, D]``."""
        return self.layers[i](hidden, attention_mask=ctx.attention_mask, position_ids=ctx.position_ids,
                              position_embeddings=ctx.position_embeddings, use_cache=False)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final norm and output projection: raw fp32 logits ``[..., V]`` of hidden states ``[..., D]``."""
        return self.backbone.lm_head(self.backbone.model.norm(hidden)).float()

    def last_hidden(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Output of the last decoder block ``[B, S, D]``, before the final norm and the head."""
        hidden, ctx = self.embed(input_ids)
        for i in range(self.num_layers):
            hidden = self.run_layer(i, hidden, ctx)
        return hidden

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Raw logits ``[B, S, V]`` fp32 (Dream: row i predicts token i+1)."""
        return self.head(self.last_hidden(input_ids))

    def position_logits(self, input_ids: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, S, V]`` whose row i predicts token i (Dream's shift undone).

        Dream's sampler realigns with ``cat([logits[:, :1], logits[:, :-1]])``: row 0 repeats the
        first row, a position Dream never masks.

        ``positions`` (bool ``[B, S]``): return only those positions' rows, ``[N, V]`` in the order
        of ``input_ids[positions]``. The head then runs on N rows instead of B·S: a Monte-Carlo
        estimate needs only the masked positions, and at paper scale the full fp32 logits of a
        batch (B·S × 126 k vocabulary) would take gigabytes.
        """
        if positions is None:
            logits = self.forward(input_ids)
            if self.logit_shift:
                logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
            return logits
        hidden = self.last_hidden(input_ids)
        rows, cols = positions.nonzero(as_tuple=True)
        if self.logit_shift:
            cols = (cols - 1).clamp(min=0)
        return self.head(hidden[rows, cols])

    def linear_modules(self, i: int) -> dict[str, nn.Linear]:
        """The seven linear layers of block ``i`` under canonical names (q_proj … down_proj)."""
        layer = self.layers[i]
        attn, mlp = layer.self_attn, layer.mlp
        return {"q_proj": attn.q_proj, "k_proj": attn.k_proj, "v_proj": attn.v_proj, "o_proj": attn.o_proj,
                "gate_proj": mlp.gate_proj, "up_proj": mlp.up_proj, "down_proj": mlp.down_proj}

    # ----- structured pruning ----------------------------------------------------------------
    def intermediate_sizes(self) -> list[int]:
        """MLP width of every layer (differs between layers after structured pruning)."""
        return [layer.mlp.down_proj.in_features for layer in self.layers]

    def keep_mlp_channels(self, i: int, keep: torch.Tensor) -> None:
        """Physically shrink layer ``i``'s MLP to the intermediate channels ``keep`` (1-D indices).

        Rows of gate/up and the matching columns of down are kept, so the layer computes exactly
        what the full layer computed with the other channels zeroed.
        """
        keep = torch.as_tensor(keep, dtype=torch.long, device=self.device).sort().values
        mlp = self.layers[i].mlp
        mlp.gate_proj = _sliced_linear(mlp.gate_proj, rows=keep)
        mlp.up_proj = _sliced_linear(mlp.up_proj, rows=keep)
        mlp.down_proj = _sliced_linear(mlp.down_proj, cols=keep)
        mlp.intermediate_size = len(keep)

    # ----- attention observation -------------------------------------------------------------
    @contextlib.contextmanager
    def observe_attention(self) -> Iterator[AttentionRecorder]:
        """Record received attention mass of every forward pass run inside the context.

        Yields an ``AttentionRecorder``: ``.per_head`` is ``[L, B, H, S]`` fp32 (Σ over queries
        of softmax probabilities, most recent forward pass) and ``.mass`` is ``[B, S]`` (summed
        over layers and heads). Attention runs eagerly inside the context only.
        """
        config = self.backbone.config
        previous = config._attn_implementation
        recorder = AttentionRecorder(self.num_layers)
        for layer in self.layers:
            layer.self_attn.sinkprune_recorder = recorder
        config._attn_implementation = OBSERVED_ATTENTION
        self.recorder = recorder
        try:
            yield recorder
        finally:
            config._attn_implementation = previous
            for layer in self.layers:
                del layer.self_attn.sinkprune_recorder
            self.recorder = None

    # ----- saving ------------------------------------------------------------------------------
    def current_config(self) -> dict[str, Any]:
        """The on-disk config.json describing the model as it is now (widths, dtype)."""
        raw = dict(self.raw_config)
        sizes = self.intermediate_sizes()
        raw.pop(PER_LAYER_INTERMEDIATE_KEY, None)
        if len(set(sizes)) == 1:
            raw[self.spec.intermediate_key] = sizes[0]
        else:
            raw[PER_LAYER_INTERMEDIATE_KEY] = sizes
        raw["torch_dtype"] = str(self.dtype).removeprefix("torch.")
        return raw


def _sliced_linear(linear: nn.Linear, rows: torch.Tensor | None = None,
                   cols: torch.Tensor | None = None) -> nn.Linear:
    weight = linear.weight.data
    bias = None if linear.bias is None else linear.bias.data
    if rows is not None:
        weight = weight[rows]
        bias = None if bias is None else bias[rows]
    if cols is not None:
        weight = weight[:, cols]
    out = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                    device=weight.device, dtype=weight.dtype)
    out.weight.data.copy_(weight)
    if bias is not None:
        out.bias.data.copy_(bias)
    return out
