"""The four model families: their on-disk config keys, parameter names and behaviour.

Each family is computed by a transformers 5.23 backbone (``LlamaForCausalLM`` or
``Qwen2ForCausalLM``) whose parameter names are the Hugging Face ones; a family maps its own
on-disk names and config keys to that backbone and back. Facts below were checked against the
released code (GSAI-ML LLaDA ``modeling_llada.py`` as vendored in VILA-Lab/Sink-Aware-Pruning,
Gen-Verse/MMaDA ``models/modeling_mmada.py``) and the published ``config.json`` files of
GSAI-ML/LLaDA-8B-*, Dream-org/Dream-v0-* and Llama / Qwen2.5 checkpoints.

- ``llada`` (LLaDA-8B-Base, LLaDA-1.5, MMaDA-8B-Base): OLMo-style keys (``d_model``, ``n_layers``,
  ``mlp_hidden_size`` …), blocks at ``model.transformer.blocks.N`` with ``ff_proj`` (SiLU gate),
  ``up_proj``, ``ff_out`` (down), ``attn_out`` (output projection), ``attn_norm`` / ``ff_norm``
  (RMSNorm), ``model.transformer.ln_f`` and an untied head ``model.transformer.ff_out``.
  Bidirectional, no logit shift. MMaDA subclasses ``LLaDAModelLM`` unchanged
  (``architectures: [MMadaModelLM]``, ``model_type: mmada``, a larger text+image vocabulary).
- ``dream`` (Dream-v0-Base-7B): Qwen2 keys and names (q/k/v bias, no o bias) plus
  ``mask_token_id``; bidirectional; the logit at position i predicts token i+1.
- ``llama``, ``qwen2``: the causal references, stored exactly as transformers stores them.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedConfig, Qwen2Config, Qwen2ForCausalLM

# Extra config key (ours, not upstream) recording per-layer MLP widths once structured pruning
# has made layers differ; absent while every layer has the family's uniform width.
PER_LAYER_INTERMEDIATE_KEY = "sinkprune_intermediate_sizes"

# Keys that describe the file, not the network; never passed to a transformers config.
_BOOKKEEPING_KEYS = {"architectures", "model_type", "auto_map", "torch_dtype", "dtype",
                     "transformers_version", "_name_or_path", PER_LAYER_INTERMEDIATE_KEY}


class Family:
    """Base class: a family whose on-disk names are the transformers (HF) names."""

    name: str = ""
    is_causal: bool = True
    logit_shift: int = 0
    architectures: tuple[str, ...] = ()  # accepted; the first is written by build_model
    model_types: tuple[str, ...] = ()
    intermediate_key: str = "intermediate_size"
    backbone_class: type = LlamaForCausalLM
    backbone_config_class: type = LlamaConfig

    def template(self, arch: dict, vocab_size: int, max_seq_len: int,
                 special_ids: dict[str, int]) -> dict[str, Any]:
        """The family's on-disk config.json for a freshly built model."""
        raise NotImplementedError

    def validate(self, raw: dict[str, Any]) -> None:
        """Raise ValueError naming any config setting the backbone cannot reproduce exactly."""

    def backbone_config(self, raw: dict[str, Any]) -> PreTrainedConfig:
        """transformers config computing exactly what the on-disk config describes."""
        self.validate(raw)
        # Deep copy: transformers rewrites nested dicts (rope_scaling) in place.
        kwargs = copy.deepcopy({k: v for k, v in raw.items() if k not in _BOOKKEEPING_KEYS})
        return self.backbone_config_class(**kwargs)

    def special_ids(self, raw: dict[str, Any]) -> dict[str, int | None]:
        """bos / eos / pad / mask token ids as written in the config (None when absent)."""
        return {"bos": _first(raw.get("bos_token_id")), "eos": _first(raw.get("eos_token_id")),
                "pad": _first(raw.get("pad_token_id")), "mask": raw.get("mask_token_id")}

    def max_seq_len(self, raw: dict[str, Any]) -> int:
        """Longest sequence the checkpoint was configured for."""
        return int(raw["max_position_embeddings"])

    def uniform_intermediate_size(self, raw: dict[str, Any]) -> int:
        """The MLP width every layer has unless per-layer widths are recorded."""
        return int(raw[self.intermediate_key])

    def to_backbone_name(self, name: str) -> str:
        """On-disk parameter name → backbone (HF) parameter name."""
        return name

    def from_backbone_name(self, name: str) -> str:
        """Backbone (HF) parameter name → on-disk parameter name."""
        return name

    def ties_embeddings(self, raw: dict[str, Any]) -> bool:
        """Whether the output head shares the input embedding matrix."""
        return bool(raw.get("tie_word_embeddings", False))

    def initialise(self, backbone: nn.Module, raw: dict[str, Any]) -> None:
        """Redraw a freshly built backbone's weights as the family's own code initialises them.

        Default: keep transformers' init (normal with ``initializer_range``, unit norms), which
        is what Llama, Qwen2 and Dream checkpoints are built with. Uses the global torch RNG.
        """


def _first(value: Any) -> int | None:
    """Llama 3.1 stores a list of eos ids; the first is the canonical one."""
    if isinstance(value, list):
        return int(value[0]) if value else None
    return None if value is None else int(value)


# transformers' initializer_range default and LLaDA's released init_std.
DEFAULT_INIT_STD = 0.02


def _init_std(arch_or_raw: dict) -> float:
    """Random-init std of an arch spec or a LLaDA config (both spell it ``init_std``)."""
    return float(arch_or_raw.get("init_std", DEFAULT_INIT_STD))


def _common_arch(arch: dict) -> tuple[int, int, int, int, int, bool]:
    hidden, layers, heads = int(arch["hidden_size"]), int(arch["num_layers"]), int(arch["num_heads"])
    kv_heads = int(arch.get("num_kv_heads", heads))
    if hidden % heads or heads % kv_heads:
        raise ValueError(f"arch needs hidden_size % num_heads == 0 and num_heads % num_kv_heads == 0, "
                         f"got {hidden}, {heads}, {kv_heads}")
    return hidden, layers, heads, kv_heads, int(arch["intermediate_size"]), bool(arch["tie_embeddings"])


class LlamaFamily(Family):
    """Causal Llama (meta-llama/Llama-3.1-8B style config.json)."""

    name, is_causal, logit_shift = "llama", True, 0
    architectures, model_types = ("LlamaForCausalLM",), ("llama",)

    def template(self, arch, vocab_size, max_seq_len, special_ids):
        hidden, layers, heads, kv_heads, inter, tied = _common_arch(arch)
        raw = {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
               "bos_token_id": special_ids["bos"], "eos_token_id": special_ids["eos"],
               "pad_token_id": special_ids["pad"], "hidden_act": "silu", "hidden_size": hidden,
               "initializer_range": _init_std(arch), "intermediate_size": inter, "max_position_embeddings": max_seq_len,
               "mlp_bias": False, "model_type": "llama", "num_attention_heads": heads,
               "num_hidden_layers": layers, "num_key_value_heads": kv_heads, "pretraining_tp": 1,
               "rms_norm_eps": 1e-5, "rope_scaling": None, "rope_theta": float(arch.get("rope_theta", 10000.0)),
               "tie_word_embeddings": tied, "use_cache": True, "vocab_size": vocab_size}
        if special_ids.get("mask") is not None:
            raw["mask_token_id"] = special_ids["mask"]
        return raw


class Qwen2Family(Family):
    """Causal Qwen2 (Qwen/Qwen2.5-7B style config.json); q/k/v carry a bias."""

    name, is_causal, logit_shift = "qwen2", True, 0
    architectures, model_types = ("Qwen2ForCausalLM",), ("qwen2",)
    backbone_class, backbone_config_class = Qwen2ForCausalLM, Qwen2Config

    def template(self, arch, vocab_size, max_seq_len, special_ids):
        hidden, layers, heads, kv_heads, inter, tied = _common_arch(arch)
        raw = {"architectures": list(self.architectures), "attention_dropout": 0.0,
               "bos_token_id": special_ids["bos"], "eos_token_id": special_ids["eos"],
               "pad_token_id": special_ids["pad"], "hidden_act": "silu", "hidden_size": hidden,
               "initializer_range": _init_std(arch), "intermediate_size": inter, "max_position_embeddings": max_seq_len,
               "max_window_layers": layers, "model_type": self.model_types[0], "num_attention_heads": heads,
               "num_hidden_layers": layers, "num_key_value_heads": kv_heads, "rms_norm_eps": 1e-6,
               "rope_scaling": None, "rope_theta": float(arch.get("rope_theta", 1000000.0)),
               "sliding_window": None, "tie_word_embeddings": tied, "use_cache": True,
               "use_sliding_window": False, "vocab_size": vocab_size}
        if special_ids.get("mask") is not None:
            raw["mask_token_id"] = special_ids["mask"]
        return raw

    def validate(self, raw):
        # Our explicit full-length masks do not implement Qwen2's sliding-window layers.
        if raw.get("use_sliding_window"):
            raise ValueError(f"{self.name}: use_sliding_window=true is not supported")
        if raw.get("rope_scaling") not in (None, {}):
            raise ValueError(f"{self.name}: rope_scaling={raw['rope_scaling']!r} is not supported")


class DreamFamily(Qwen2Family):
    """Dream-org/Dream-v0-Base-7B: Qwen2 weights, bidirectional, logits shifted by one."""

    name, is_causal, logit_shift = "dream", False, 1
    architectures, model_types = ("DreamModel",), ("Dream", "dream")

    def template(self, arch, vocab_size, max_seq_len, special_ids):
        if special_ids.get("mask") is None:
            raise ValueError("dream needs special_ids['mask']")
        raw = super().template(arch, vocab_size, max_seq_len, special_ids)
        raw["use_cache"] = False
        return raw


# LLaDA on-disk name patterns ↔ Llama backbone names (block-level first, then top-level).
_LLADA_BLOCK = {"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
                "attn_out": "self_attn.o_proj", "ff_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj",
                "ff_out": "mlp.down_proj", "attn_norm": "input_layernorm",
                "ff_norm": "post_attention_layernorm"}
_LLADA_TOP = {"model.transformer.wte.weight": "model.embed_tokens.weight",
              "model.transformer.ln_f.weight": "model.norm.weight",
              "model.transformer.ff_out.weight": "lm_head.weight"}
_LLADA_BLOCK_RE = re.compile(r"model\.transformer\.blocks\.(\d+)\.(\w+)\.(weight|bias)")
_HF_BLOCK_RE = re.compile(r"model\.layers\.(\d+)\.([\w.]+)\.(weight|bias)")

# Settings of LLaDA's OLMo-derived config that select computations other than the Llama-style
# block LLaDA-8B uses; each must hold for the Llama backbone to be exact.
_LLADA_REQUIRED = {"block_type": "llama", "activation_type": "silu"}
_LLADA_EXPECTED = {"layer_norm_type": "rms", "rope": True, "alibi": False, "include_bias": False,
                   "include_qkv_bias": False, "attention_layer_norm": False, "input_emb_norm": False,
                   "scale_logits": False, "block_group_size": 1, "layer_norm_with_affine": True,
                   "bias_for_layer_norm": (False, None), "rope_scaling": (None,)}


class LLaDAFamily(Family):
    """GSAI-ML/LLaDA-8B-Base (also LLaDA-1.5 and MMaDA-8B-Base): bidirectional mask predictor."""

    name, is_causal, logit_shift = "llada", False, 0
    architectures, model_types = ("LLaDAModelLM", "MMadaModelLM"), ("llada", "mmada")
    intermediate_key = "mlp_hidden_size"

    def template(self, arch, vocab_size, max_seq_len, special_ids):
        if special_ids.get("mask") is None:
            raise ValueError("llada needs special_ids['mask']")
        hidden, layers, heads, kv_heads, inter, tied = _common_arch(arch)
        # Keys and defaults of GSAI-ML/LLaDA-8B-Base config.json; sizes are the caller's.
        return {"activation_type": "silu", "alibi": False, "alibi_bias_max": 8.0,
                "architectures": ["LLaDAModelLM"], "attention_dropout": 0.0, "attention_layer_norm": False,
                "attention_layer_norm_with_affine": True, "bias_for_layer_norm": False,
                "block_group_size": 1, "block_type": "llama", "bos_token_id": special_ids["bos"],
                "d_model": hidden, "embedding_dropout": 0.0, "embedding_size": vocab_size,
                "eos_token_id": special_ids["eos"], "flash_attention": False, "include_bias": False,
                "include_qkv_bias": False, "init_cutoff_factor": None, "init_device": "meta",
                "init_fn": arch.get("init_fn", "mitchell"), "init_std": _init_std(arch),
                "input_emb_norm": False, "layer_norm_type": "rms",
                "layer_norm_with_affine": True, "mask_token_id": special_ids["mask"],
                "max_sequence_length": max_seq_len, "mlp_hidden_size": inter, "mlp_ratio": 4,
                "model_type": "llada", "multi_query_attention": None, "n_heads": heads,
                "n_kv_heads": kv_heads, "n_layers": layers, "pad_token_id": special_ids["pad"],
                "precision": "amp_bf16", "residual_dropout": 0.0, "rms_norm_eps": 1e-5, "rope": True,
                "rope_full_precision": True, "rope_theta": float(arch.get("rope_theta", 500000.0)),
                "scale_logits": False, "use_cache": False, "vocab_size": vocab_size, "weight_tying": tied}

    def validate(self, raw):
        for key, value in _LLADA_REQUIRED.items():
            if raw.get(key) != value:
                raise ValueError(f"llada: config {key}={raw.get(key)!r} is not supported (need {value!r})")
        for key, allowed in _LLADA_EXPECTED.items():
            allowed = allowed if isinstance(allowed, tuple) else (allowed,)
            if key in raw and raw[key] not in allowed:
                raise ValueError(f"llada: config {key}={raw[key]!r} is not supported (need {allowed[0]!r})")

    def backbone_config(self, raw):
        self.validate(raw)
        heads = int(raw["n_heads"])
        kv_heads = 1 if raw.get("multi_query_attention") else int(raw.get("n_kv_heads") or heads)
        return LlamaConfig(
            hidden_size=int(raw["d_model"]), num_hidden_layers=int(raw["n_layers"]),
            num_attention_heads=heads, num_key_value_heads=kv_heads,
            intermediate_size=self.uniform_intermediate_size(raw),
            # The embedding matrix (and the head) has embedding_size rows when that is set.
            vocab_size=int(raw.get("embedding_size") or raw["vocab_size"]),
            max_position_embeddings=self.max_seq_len(raw), rms_norm_eps=float(raw.get("rms_norm_eps", 1e-5)),
            rope_theta=float(raw.get("rope_theta", 10000.0)), hidden_act="silu", attention_bias=False,
            mlp_bias=False, tie_word_embeddings=self.ties_embeddings(raw), attention_dropout=0.0,
            initializer_range=_init_std(raw))

    def max_seq_len(self, raw):
        return int(raw["max_sequence_length"])

    def uniform_intermediate_size(self, raw):
        if raw.get("mlp_hidden_size") is not None:
            return int(raw["mlp_hidden_size"])
        return int(raw.get("mlp_ratio", 4)) * int(raw["d_model"])

    def to_backbone_name(self, name):
        if name in _LLADA_TOP:
            return _LLADA_TOP[name]
        match = _LLADA_BLOCK_RE.fullmatch(name)
        if match and match.group(2) in _LLADA_BLOCK:
            return f"model.layers.{match.group(1)}.{_LLADA_BLOCK[match.group(2)]}.{match.group(3)}"
        raise KeyError(f"llada: unexpected parameter name {name!r}")

    def from_backbone_name(self, name):
        for disk, hf in _LLADA_TOP.items():
            if name == hf:
                return disk
        match = _HF_BLOCK_RE.fullmatch(name)
        inverse = {hf: disk for disk, hf in _LLADA_BLOCK.items()}
        if match and match.group(2) in inverse:
            return f"model.transformer.blocks.{match.group(1)}.{inverse[match.group(2)]}.{match.group(3)}"
        raise KeyError(f"llada: backbone parameter {name!r} has no LLaDA name")

    def ties_embeddings(self, raw):
        return bool(raw.get("weight_tying", False))

    def initialise(self, backbone, raw):
        """LLaDA's ``init_fn``: ``normal`` keeps N(0, init_std) everywhere (the backbone's own
        init); ``mitchell`` (LLaDA-8B's released config, from OLMo) draws truncated normals
        (±3σ) with σ = 1/√fan_in, the residual outputs (attn_out, ff_out) further divided by
        √(2·(layer + 1)).

        transformers has no OLMo-style init, hence this hand-written one. The scale matters for
        the from-scratch stand-ins: with one σ for every matrix the attention and MLP outputs
        swamp the token embeddings in the residual stream, and a tiny bidirectional model stays
        near bag-of-words (bench/fact_learning.py, ``--init-fn``).
        """
        init_fn = raw.get("init_fn", "normal")
        if init_fn == "normal":
            return
        if init_fn != "mitchell":
            raise ValueError(f"llada: config init_fn={init_fn!r} is not supported for a random init "
                             "(need 'mitchell' or 'normal')")
        d_model = backbone.config.hidden_size
        with torch.no_grad():
            _trunc_normal(backbone.model.embed_tokens.weight, d_model ** -0.5)
            if not backbone.config.tie_word_embeddings:
                _trunc_normal(backbone.lm_head.weight, d_model ** -0.5)
            for layer_id, layer in enumerate(backbone.model.layers):
                attn, mlp = layer.self_attn, layer.mlp
                for linear in (attn.q_proj, attn.k_proj, attn.v_proj, mlp.gate_proj, mlp.up_proj):
                    _trunc_normal(linear.weight, d_model ** -0.5)
                depth = math.sqrt(2 * (layer_id + 1))
                _trunc_normal(attn.o_proj.weight, d_model ** -0.5 / depth)
                _trunc_normal(mlp.down_proj.weight, mlp.down_proj.in_features ** -0.5 / depth)


def _trunc_normal(weight: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-3 * std, b=3 * std)


FAMILIES: dict[str, Family] = {f.name: f for f in (LLaDAFamily(), DreamFamily(), LlamaFamily(), Qwen2Family())}


def get_family(name: str) -> Family:
    """The family called ``name`` (llada, dream, llama, qwen2)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def detect_family(raw: dict[str, Any], where: str) -> Family:
    """Family of a config.json: by ``architectures`` when present, else by ``model_type``."""
    architectures = raw.get("architectures") or []
    if architectures:
        for family in FAMILIES.values():
            if architectures[0] in family.architectures:
                return family
        known = sorted(a for f in FAMILIES.values() for a in f.architectures)
        raise ValueError(f"{where}: unknown architecture {architectures[0]!r} in config.json "
                         f"(supported: {', '.join(known)})")
    model_type = raw.get("model_type")
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    raise ValueError(f"{where}: config.json has no 'architectures' and unknown model_type {model_type!r}")
