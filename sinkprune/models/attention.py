"""Eager attention that reduces each layer's softmax matrix to received mass on the fly.

Registered in transformers' attention interface as ``sinkprune_observed``; ``SinkModel``
switches to it only inside ``observe_attention()``. It computes what transformers' eager
attention computes (scores in the model dtype, softmax in fp32, output from the probabilities
cast back to the model dtype) and, before discarding the probabilities, records
``mass[b, h, k] = Σ_q A[b, h, q, k]`` in fp32 (docs/method.md §1). Queries are processed in chunks so
a layer never holds its full S×S matrix either.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface

OBSERVED_ATTENTION = "sinkprune_observed"
QUERY_CHUNK = 512


class AttentionRecorder:
    """Received attention mass of the most recent forward pass, one slot per layer."""

    def __init__(self, num_layers: int) -> None:
        self.num_layers = num_layers
        self._per_layer: list[torch.Tensor | None] = [None] * num_layers

    def record(self, layer: int, mass: torch.Tensor) -> None:
        """Store layer ``layer``'s mass ``[B, H, S]``; layer 0 starts a new forward pass."""
        if layer == 0:
            self._per_layer = [None] * self.num_layers
        self._per_layer[layer] = mass.detach().float()

    @property
    def per_head(self) -> torch.Tensor:
        """``[L, B, H, S]`` fp32: Σ over queries of the softmax probabilities, per layer and head."""
        missing = [i for i, m in enumerate(self._per_layer) if m is None]
        if missing:
            raise RuntimeError(f"no attention recorded for layers {missing}: run a full forward pass "
                               "inside observe_attention() first")
        return torch.stack(self._per_layer)  # type: ignore[arg-type]

    @property
    def mass(self) -> torch.Tensor:
        """``[B, S]``: mass summed over layers and heads (the released code's m_t(i))."""
        return self.per_head.sum(dim=(0, 2))


def _repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    # Grouped-query attention: every query head reads its key/value group's head.
    return states if groups == 1 else states.repeat_interleave(groups, dim=1)


def observed_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                       attention_mask: torch.Tensor | None, scaling: float, dropout: float = 0.0,
                       **kwargs) -> tuple[torch.Tensor, None]:
    """transformers attention-interface function; returns (output ``[B, Q, H, D]``, None)."""
    recorder: AttentionRecorder | None = getattr(module, "sinkprune_recorder", None)
    key = _repeat_kv(key, module.num_key_value_groups)
    value = _repeat_kv(value, module.num_key_value_groups)
    batch, heads, queries, _ = query.shape
    mass = torch.zeros(batch, heads, key.shape[2], dtype=torch.float32, device=query.device)
    outputs = []
    for start in range(0, queries, QUERY_CHUNK):
        q = query[:, :, start:start + QUERY_CHUNK]
        scores = torch.matmul(q, key.transpose(2, 3)) * scaling
        if attention_mask is not None:
            scores = scores + attention_mask[:, :, start:start + QUERY_CHUNK, : key.shape[2]]
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        mass += probs.sum(dim=2)
        probs = nn.functional.dropout(probs, p=dropout, training=module.training)
        outputs.append(torch.matmul(probs.to(value.dtype), value))
    if recorder is not None:
        recorder.record(module.layer_idx, mass)
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None


AttentionInterface.register(OBSERVED_ATTENTION, observed_attention)
