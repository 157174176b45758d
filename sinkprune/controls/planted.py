"""Planted-sink models: the mini architecture with attention sinks written into its weights.

Every planted model starts as the family's random initialisation (the same build as an
untrained mini model) and has a few layer-0 weights overwritten so that chosen heads put a set
share of each query's attention on chosen tokens. The untrained background stays everywhere
else, so a weak planted sink competes with the attention noise an untrained model shows.

How a head is written (Qwen2 / Dream attention: RoPE and a q bias):
- A constant query comes from the q bias (the q-weight rows of the written dimensions are
  zeroed), so every query scores a key the same way wherever it sits.
- Token features come from *indicator dimensions* of the embedding: one hidden dimension per
  marked token (BOS, EOS, mask) that is zero for every other token. Layer 0 reads the
  embedding, so a key row reading only those dimensions is non-zero exactly for those tokens.
- Query and key live in the slowest RoPE pair (rotation over the whole sequence < 0.03 rad),
  so a marked key gets the same score Δ from every query at any distance. Against S − 1 keys
  scored 0, Δ = log(s / (1 − s) · (S − 1)) gives the marked key the share s of the query's
  attention: s is the *strength*.

DLM planted model (rows ``BOS … EOS``; Dream never masks the first and last position):
two *anchor* heads score BOS with Δ(s) and mask tokens with a milder Δ_m, one *end* head scores
EOS with Δ(s), the fourth head stays untrained. Mask tokens are distractors for the anchor
heads only: Δ_m is set so that at n* = S/2 masked tokens they halve BOS's share
(n*·(e^Δ_m − 1) = e^Δ + S − 1), where the two anchor heads together give BOS what the end head
gives EOS. So the dominant position is BOS while fewer than half the tokens are masked and EOS
once more are: the sink jumps between the two ends of the sequence as the masking pattern
changes, and where the switch falls does not depend on s. AR planted model: the same writes
without mask tokens, under causal attention: the anchor heads keep the sink on BOS, the first
token, in every decoding prefix.

Strength s = 0 writes nothing: the planted model is then the untrained model of its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from sinkprune.models import build_model

# Special ids of the controls' own vocabulary (the mini tokenizer's order: bos, eos, pad, mask).
SPECIAL_IDS = {"bos": 0, "eos": 1, "pad": 2, "mask": 3}
BIAS_FAMILIES = ("qwen2", "dream")


@dataclass(frozen=True)
class Arch:
    """What a planted model is built from: family, mini arch dict, vocabulary and length."""

    family: str
    arch: dict
    vocab_size: int
    seq_len: int


def build_background(spec: Arch, seed: int) -> Any:
    """The family's random initialisation (an untrained model) drawn from ``seed``."""
    if spec.family not in BIAS_FAMILIES:
        raise ValueError(f"planted sinks are written through the q/k biases of {', '.join(BIAS_FAMILIES)}; "
                         f"controls family {spec.family!r} has none")
    heads = int(spec.arch["num_heads"])
    if int(spec.arch.get("num_kv_heads", heads)) != heads:
        raise ValueError("planted sinks need num_kv_heads == num_heads (one key head per query head)")
    return build_model(spec.family, spec.arch, vocab_size=spec.vocab_size, max_seq_len=spec.seq_len,
                       special_ids=SPECIAL_IDS, seed=seed)


def content_score(share: float, seq_len: int) -> float:
    """Δ giving one key share ``share`` of a query's attention against S − 1 keys scored 0."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"sink strength must lie in (0, 1), got {share}")
    return math.log(share / (1.0 - share) * (seq_len - 1))



def content_pair(model: Any) -> int:
    """Index j of the slowest RoPE pair (dims j and j + head_dim/2), whose rotation over the
    whole sequence must stay below 0.05 rad so a score does not depend on distance."""
    inv_freq = model.backbone.model.rotary_emb.inv_freq.double()
    if float(inv_freq[-1]) * (model.max_seq_len - 1) > 0.05:
        raise ValueError(f"rope_theta too small for distance-free scores over {model.max_seq_len} positions")
    return len(inv_freq) - 1


def _norm_row(model: Any, token: int) -> torch.Tensor:
    """Layer 0's RMS-normalised embedding of ``token`` ``[D]`` (what q/k/v read at layer 0)."""
    emb = model.backbone.model.embed_tokens.weight[token:token + 1]
    return model.layers[0].input_layernorm(emb)[0]


def mark_tokens(model: Any, tokens: dict[int, int]) -> None:
    """Give each token id its own indicator dimension ``{token: dim}``: that embedding column is
    zeroed for every token, then set for the token to the mean embedding row norm."""
    weight = model.backbone.model.embed_tokens.weight
    with torch.no_grad():
        level = float(weight.norm(dim=1).mean())
        for token, dim in tokens.items():
            weight[:, dim] = 0.0
        for token, dim in tokens.items():
            weight[token, dim] = level




@torch.no_grad()
def write_head(model: Any, head: int, scores: dict[int, tuple[int, float]]) -> None:
    """Layer-0 ``head`` scores keys of each marked token ``{token: (dim, score)}``, others 0.

    The query is the q bias in the content pair; the key row of that pair reads only the
    tokens' indicator dimensions. The head's values are left as initialised.
    """
    attn = model.layers[0].self_attn
    half = attn.head_dim // 2
    base = head * attn.head_dim
    pair = [base + content_pair(model), base + content_pair(model) + half]
    # The whole head is written: unmarked keys score exactly 0 (a uniform background), so s is
    # the marked key's share. (A random remainder would score all mask tokens alike by chance,
    # a distractor of random strength.)
    rows = slice(base, base + attn.head_dim)
    for proj in (attn.q_proj, attn.k_proj):
        proj.weight[rows] = 0.0
        if proj.bias is not None:
            proj.bias[rows] = 0.0
    # q·k·scaling = score; the query is a unit-scale constant, the key carries the score.
    query = 1.0 / math.sqrt(attn.scaling)
    attn.q_proj.bias[pair[0]] = query
    for token, (dim, score) in scores.items():
        x = float(_norm_row(model, token)[dim])
        attn.k_proj.weight[pair[0], dim] = score / (query * attn.scaling * x)


# Hidden dimensions used as indicators (the last ones; any unused-by-design dimension works).
INDICATOR_DIMS = {"bos": -1, "eos": -2, "mask": -3}
ANCHOR_HEADS = (0, 1)  # score BOS (and, in a DLM, mask tokens as distractors)
END_HEAD = 2  # scores EOS; any further head stays untrained


def _indicators(model: Any, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    hidden = model.backbone.config.hidden_size
    ids = {"bos": model.bos_id, "eos": model.eos_id, "mask": model.mask_id}
    missing = [n for n in names if ids[n] is None]
    if missing:
        raise ValueError(f"{model.family} model has no {', '.join(missing)} token for a planted sink")
    out = {n: (ids[n], hidden + INDICATOR_DIMS[n]) for n in names}
    mark_tokens(model, dict(out.values()))
    return out


def plant(model: Any, strength: float) -> Any:
    """Write the planted sink of the module docstring into ``model`` in place; returns it.

    A model with a mask token (DLM) gets the moving sink, a causal model the first-token sink.
    """
    if strength == 0:
        return model
    if model.num_heads <= END_HEAD:
        raise ValueError(f"a planted model needs at least {END_HEAD + 1} attention heads, got {model.num_heads}")
    dlm = model.mask_id is not None
    marks = _indicators(model, ("bos", "eos", "mask") if dlm else ("bos", "eos"))
    seq_len = model.max_seq_len
    delta = content_score(strength, seq_len)
    anchor = {marks["bos"][0]: (marks["bos"][1], delta)}
    if dlm:
        half = seq_len / 2
        mask_delta = math.log(1.0 + (math.exp(delta) + seq_len - 1) / half)
        anchor[marks["mask"][0]] = (marks["mask"][1], mask_delta)
    for head in ANCHOR_HEADS:
        write_head(model, head, anchor)
    write_head(model, END_HEAD, {marks["eos"][0]: (marks["eos"][1], delta)})
    return model


# ----- planted massive activations (the pruning control) ---------------------------------------
MASSIVE_LEVEL = 1.0e4  # the sink's residual magnitude in each massive dimension (others: O(1))


def first_token_ids(channels: int) -> list[int]:
    """Ids of the pruning control's first tokens: ``channels`` ids right after the specials.

    Each carries its own sign pattern of the massive activation (:func:`plant_massive`), so the
    sink's activations span all ``channels`` dimensions over a calibration batch.
    """
    first = max(SPECIAL_IDS.values()) + 1
    return list(range(first, first + channels))


def sign_patterns(channels: int) -> torch.Tensor:
    """``[channels, channels]`` ±1 rows of the Sylvester Hadamard matrix: mutually orthogonal,
    equal magnitude in every column. ``channels`` must be a power of 2."""
    if channels < 1 or channels & (channels - 1):
        raise ValueError(f"controls.pruning.channels must be a power of 2 (the sink's sign patterns are "
                         f"Hadamard rows), got {channels}")
    rows = torch.ones(1, 1)
    while rows.shape[0] < channels:
        rows = torch.cat([torch.cat([rows, rows], 1), torch.cat([rows, -rows], 1)], 0)
    return rows


@torch.no_grad()
def plant_massive(model: Any, channels: int, gain: float) -> tuple[list[int], int]:
    """Position 0 becomes an attention sink whose activations dominate ``channels`` input channels.

    In place: ``channels`` residual dimensions R hold ``±MASSIVE_LEVEL`` for the first tokens
    (:func:`first_token_ids`; token k has the sign pattern of Hadamard row k) and 0 for every
    other token at every layer (only those embedding rows set R, no o_proj/down_proj writes
    into R), and every RMSNorm scales R by ``gain``, so the normalised inputs of q, gate and up
    carry the sink's massive values in R. R feeds no key and no value (those columns are zero),
    so what reads R changes the sink's own query and MLP only: the channels matter only for the
    sink. Its massive norm also shrinks the rest of the sink's normalised state, so its values
    stay near 0: a no-op sink, as in trained models. Two layer-0 heads attend to position 0
    through their biases alone (:func:`write_first_position_head`), out of pruning's reach,
    whatever token sits there.

    Why one pattern per first token: over a calibration batch whose rows start with different
    first tokens, the sink's rows of XᵀX span R (rank ``channels``, orthogonal patterns, equal
    per-channel norms). A sink that is one fixed vector puts a rank-1 block into XᵀX: R's
    inputs are collinear, so SparseGPT removes most weights reading R first and its update
    folds them into the ones it keeps, spending little budget on the sink (docs/controls.md).
    Returns (R, number of sink heads).
    """
    hidden = model.backbone.config.hidden_size
    first = hidden + min(INDICATOR_DIMS.values()) - channels
    dims = list(range(first, first + channels))
    tokens = first_token_ids(channels)
    emb = model.backbone.model.embed_tokens.weight
    if max(tokens) >= emb.shape[0]:
        raise ValueError(f"controls.vocab_size must exceed {max(tokens)}: the pruning control needs "
                         f"{channels} first-token ids after the specials")
    emb[:, dims] = 0.0
    emb[tokens] = 0.0
    emb[tokens[0]:tokens[-1] + 1, first:first + channels] = MASSIVE_LEVEL * sign_patterns(channels).to(emb.dtype)
    for layer in model.layers:
        layer.input_layernorm.weight[dims] = gain
        layer.post_attention_layernorm.weight[dims] = gain
        layer.self_attn.o_proj.weight[dims] = 0.0
        layer.mlp.down_proj.weight[dims] = 0.0
        layer.self_attn.k_proj.weight[:, dims] = 0.0
        layer.self_attn.v_proj.weight[:, dims] = 0.0
    for head in ANCHOR_HEADS:
        write_first_position_head(model, head, FIRST_POSITION_SLOPE)
    return dims, len(ANCHOR_HEADS)


# Score drop per position away from position 0 in a first-position head: position 0 outweighs
# position 1 by e^6 ≈ 400, so the head attends position 0 alone.
FIRST_POSITION_SLOPE = 6.0


def lean_pair(model: Any) -> tuple[int, float]:
    """(j, θ_j): the fastest RoPE pair whose angle over the sequence stays below π/2 − 0.3, so
    ``sin((p − i)·θ)`` falls monotonically with the key position i for every query p."""
    inv_freq = model.backbone.model.rotary_emb.inv_freq.double().tolist()
    span = model.max_seq_len - 1
    usable = [j for j, f in enumerate(inv_freq) if f * span <= math.pi / 2 - 0.3]
    if not usable:
        raise ValueError(f"no RoPE frequency turns slowly enough over {model.max_seq_len} positions")
    return min(usable), inv_freq[min(usable)]


@torch.no_grad()
def write_first_position_head(model: Any, head: int, slope: float) -> None:
    """Layer-0 ``head`` attends to position 0 from every query, through biases only.

    q bias (a, 0) and k bias (0, b) in one RoPE pair score key i from query p by
    ``a·b·sin((p − i)·θ)``, largest at i = 0 for every p; the weights of the head's q and k rows
    are zero, so no pruning (which only touches weights) can move or remove this sink.
    """
    attn = model.layers[0].self_attn
    half = attn.head_dim // 2
    base = head * attn.head_dim
    j, theta = lean_pair(model)
    rows = slice(base, base + attn.head_dim)
    for proj in (attn.q_proj, attn.k_proj):
        proj.weight[rows] = 0.0
        proj.bias[rows] = 0.0
    amplitude = slope / (theta * math.cos(theta * (model.max_seq_len - 1)))
    factor = math.sqrt(amplitude / attn.scaling)
    attn.q_proj.bias[base + j] = factor
    attn.k_proj.bias[base + j + half] = factor
