"""Model families: on-disk formats, attention direction, attention observation, sampler.

Every checkpoint here is a tiny random model the tests write themselves; nothing is downloaded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sinkprune.models import build_model, generate, load_model, save_model, transfer_weights
from sinkprune.models.families import PER_LAYER_INTERMEDIATE_KEY

torch.set_num_threads(1)

FAMILIES = ["llada", "dream", "llama", "qwen2"]
BIDIRECTIONAL = {"llada": True, "dream": True, "llama": False, "qwen2": False}
ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
        "intermediate_size": 48, "tie_embeddings": False}
VOCAB, MAX_LEN = 40, 24
IDS = {"bos": 1, "eos": 2, "pad": 3, "mask": 39}


def tiny(family: str, seed: int = 0, **arch) -> "SinkModel":  # noqa: F821
    return build_model(family, {**ARCH, **arch}, VOCAB, MAX_LEN, IDS, seed)


def tokens(batch: int = 2, length: int = 12, seed: int = 0) -> torch.Tensor:
    ids = torch.randint(4, VOCAB - 1, (batch, length), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = IDS["bos"]
    return ids


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """One saved tiny checkpoint per family."""
    root = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for family in FAMILIES:
        paths[family] = root / family
        save_model(tiny(family), paths[family])
    return paths


# ----- on-disk format ----------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_round_trip_gives_identical_logits(family, saved):
    ids = tokens()
    reloaded = load_model(saved[family])
    assert reloaded.family == family
    assert torch.equal(reloaded(ids), tiny(family)(ids))
    again = saved[family].parent / f"{family}-again"
    save_model(reloaded, again)
    assert json.loads((again / "config.json").read_text()) == json.loads((saved[family] / "config.json").read_text())
    assert torch.equal(load_model(again)(ids), reloaded(ids))


def test_llada_files_use_llada_names_and_keys(saved):
    config = json.loads((saved["llada"] / "config.json").read_text())
    assert config["architectures"] == ["LLaDAModelLM"] and config["model_type"] == "llada"
    for key in ("d_model", "n_layers", "n_heads", "n_kv_heads", "mlp_hidden_size", "embedding_size",
                "max_sequence_length", "weight_tying", "mask_token_id", "block_type", "rope_theta"):
        assert key in config, key
    with safe_open(str(saved["llada"] / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
    block = "model.transformer.blocks.1."
    expected = {block + n + ".weight" for n in
                ("q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out", "attn_norm", "ff_norm")}
    expected |= {"model.transformer.wte.weight", "model.transformer.ln_f.weight", "model.transformer.ff_out.weight"}
    assert expected <= names
    assert not any(n.startswith("model.layers") or n.startswith("lm_head") for n in names)


def test_dream_files_use_qwen2_names_with_qkv_bias(saved):
    config = json.loads((saved["dream"] / "config.json").read_text())
    assert config["architectures"] == ["DreamModel"] and config["model_type"] == "Dream"
    assert config["mask_token_id"] == IDS["mask"]
    with safe_open(str(saved["dream"] / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
    assert {"model.layers.0.self_attn.q_proj.bias", "lm_head.weight", "model.embed_tokens.weight"} <= names
    assert "model.layers.0.self_attn.o_proj.bias" not in names


def _llada_reference_logits(directory: Path, ids: torch.Tensor) -> torch.Tensor:
    """LLaDA's forward written from modeling_llada.py (LLaDALlamaBlock), reading LLaDA names."""
    config = json.loads((directory / "config.json").read_text())
    w = load_file(str(directory / "model.safetensors"))
    d, heads, kv_heads = config["d_model"], config["n_heads"], config["n_kv_heads"]
    head_dim, eps = d // heads, config["rms_norm_eps"]
    batch, seq = ids.shape

    def rms(x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight

    inv_freq = 1.0 / config["rope_theta"] ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(seq).float(), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)

    def rope(t):
        first, second = t[..., : head_dim // 2], t[..., head_dim // 2:]
        return t * angles.cos() + torch.cat([-second, first], dim=-1) * angles.sin()

    x = w["model.transformer.wte.weight"][ids]
    for i in range(config["n_layers"]):
        p = f"model.transformer.blocks.{i}."
        h = rms(x, w[p + "attn_norm.weight"])
        q = (h @ w[p + "q_proj.weight"].T).view(batch, seq, heads, head_dim).transpose(1, 2)
        k = (h @ w[p + "k_proj.weight"].T).view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        v = (h @ w[p + "v_proj.weight"].T).view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
        attn = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(head_dim), dim=-1) @ v
        x = x + attn.transpose(1, 2).reshape(batch, seq, d) @ w[p + "attn_out.weight"].T
        h = rms(x, w[p + "ff_norm.weight"])
        x = x + (F.silu(h @ w[p + "ff_proj.weight"].T) * (h @ w[p + "up_proj.weight"].T)) @ w[p + "ff_out.weight"].T
    return rms(x, w["model.transformer.ln_f.weight"]) @ w["model.transformer.ff_out.weight"].T


def test_llada_computes_what_llada_code_computes(saved):
    ids = tokens()
    expected = _llada_reference_logits(saved["llada"], ids)
    assert torch.allclose(load_model(saved["llada"])(ids), expected, atol=1e-5)


def test_sharded_checkpoint_loads_like_single_file(saved, tmp_path):
    state = load_file(str(saved["llada"] / "model.safetensors"))
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(tmp_path / file))
    index = {"metadata": {}, "weight_map": {k: f for f, keys in shards.items() for k in keys}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "config.json").write_text((saved["llada"] / "config.json").read_text())
    ids = tokens()
    assert torch.equal(load_model(tmp_path)(ids), load_model(saved["llada"])(ids))


def test_tied_embeddings_round_trip_without_head_in_file(tmp_path):
    model = tiny("llama", tie_embeddings=True)
    save_model(model, tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as handle:
        assert "lm_head.weight" not in set(handle.keys())
    reloaded = load_model(tmp_path)
    assert reloaded.backbone.lm_head.weight is reloaded.backbone.model.embed_tokens.weight
    assert torch.equal(reloaded(tokens()), model(tokens()))


def test_bf16_load_is_close_to_fp32(saved):
    ids = tokens()
    low = load_model(saved["dream"], dtype=torch.bfloat16)
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low(ids), load_model(saved["dream"])(ids), atol=0.05)


# ----- errors ------------------------------------------------------------------------------------
def test_unknown_architecture_fails_naming_it(saved, tmp_path):
    config = json.loads((saved["llama"] / "config.json").read_text())
    config["architectures"] = ["MysteryForCausalLM"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((saved["llama"] / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="MysteryForCausalLM"):
        load_model(tmp_path)


def test_missing_weights_file_fails_naming_it(saved, tmp_path):
    (tmp_path / "config.json").write_text((saved["llada"] / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_model(tmp_path)


def test_missing_shard_fails_naming_it(saved, tmp_path):
    (tmp_path / "config.json").write_text((saved["llada"] / "config.json").read_text())
    index = {"weight_map": {"model.transformer.wte.weight": "model-00001-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(FileNotFoundError, match="model-00001-of-00002.safetensors"):
        load_model(tmp_path)


def test_missing_config_fails_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path)


def test_unsupported_llada_setting_fails_naming_it(saved, tmp_path):
    config = json.loads((saved["llada"] / "config.json").read_text())
    config["block_type"] = "sequential"
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((saved["llada"] / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="block_type"):
        load_model(tmp_path)


def test_missing_hub_model_offline_is_one_clear_error():
    with pytest.raises(FileNotFoundError, match="sinkprune-tests/no-such-model"):
        load_model("sinkprune-tests/no-such-model", local_files_only=True)


def test_missing_local_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_model(tmp_path / "nowhere")


def test_mmada_architecture_loads_as_llada(saved, tmp_path):
    config = json.loads((saved["llada"] / "config.json").read_text())
    config.update(architectures=["MMadaModelLM"], model_type="mmada")
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((saved["llada"] / "model.safetensors").read_bytes())
    model = load_model(tmp_path)
    assert model.family == "llada" and model.mask_id == IDS["mask"]
    out = tmp_path / "saved"
    save_model(model, out)
    assert json.loads((out / "config.json").read_text())["architectures"] == ["MMadaModelLM"]


# ----- attention direction, shift, layer API ----------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_attention_direction(family):
    model = tiny(family)
    ids = tokens(batch=1)
    k = 7
    changed = ids.clone()
    changed[0, k] = (ids[0, k] + 1 - 4) % (VOCAB - 5) + 4
    before, after = model(ids), model(changed)
    earlier_differs = (before[0, :k] - after[0, :k]).abs().amax(dim=-1) > 1e-6
    assert model.is_causal is not BIDIRECTIONAL[family]
    if BIDIRECTIONAL[family]:
        assert earlier_differs.all()
    else:
        assert not earlier_differs.any()
        assert (before[0, k:] - after[0, k:]).abs().amax() > 1e-6


def test_dream_position_logits_are_forward_shifted_by_one():
    model = tiny("dream")
    ids = tokens()
    raw, aligned = model(ids), model.position_logits(ids)
    assert model.logit_shift == 1
    assert torch.equal(aligned[:, 1:], raw[:, :-1])
    assert torch.equal(aligned[:, 0], raw[:, 0])
    llada = tiny("llada")
    assert llada.logit_shift == 0 and torch.equal(llada.position_logits(ids), llada(ids))


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_position_logits_of_chosen_positions_are_those_rows_of_the_full_logits(family):
    model = tiny(family)
    ids = tokens()
    chosen = torch.zeros_like(ids, dtype=torch.bool)
    chosen[0, [0, 3, 9]] = True  # row 0 included: Dream reads it from row 0 too
    chosen[1, [2, 10]] = True
    with torch.no_grad():
        full, rows = model.position_logits(ids), model.position_logits(ids, chosen)
    assert rows.shape == (5, full.shape[-1])
    torch.testing.assert_close(rows, full[chosen], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["llada", "llama"])
def test_layer_by_layer_api_equals_forward(family):
    model = tiny(family)
    ids = tokens()
    hidden, ctx = model.embed(ids)
    for i in range(len(model.layers)):
        hidden = model.run_layer(i, hidden, ctx)
    assert torch.equal(model.head(hidden), model(ids))
    linears = model.linear_modules(1)
    assert list(linears) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert linears["k_proj"].weight.shape == (ARCH["hidden_size"] // 2, ARCH["hidden_size"])  # 2 kv heads
    assert linears["down_proj"].weight.shape == (ARCH["hidden_size"], ARCH["intermediate_size"])


def test_attributes_of_each_family():
    for family in FAMILIES:
        model = tiny(family)
        assert (model.num_layers, model.num_heads, model.vocab_size, model.max_seq_len) == (2, 4, VOCAB, MAX_LEN)
        assert (model.bos_id, model.eos_id, model.pad_id) == (1, 2, 3)
        assert model.mask_id == (IDS["mask"] if BIDIRECTIONAL[family] else None)


@pytest.mark.parametrize("family", FAMILIES)
def test_init_std_sets_the_random_init_scale_and_is_recorded(family, tmp_path):
    """arch.init_std reaches the backbone's init (LLaDA's init_std, HF's initializer_range)."""
    def proj_std(model) -> float:
        return float(torch.cat([p.detach().flatten() for n, p in model.backbone.named_parameters()
                                if n.endswith(("q_proj.weight", "gate_proj.weight"))]).std())

    normal = {"init_fn": "normal"} if family == "llada" else {}  # LLaDA's default is mitchell
    small, large = proj_std(tiny(family, **normal)), proj_std(tiny(family, init_std=0.2, **normal))
    assert abs(small - 0.02) < 0.004 and abs(large - 0.2) < 0.04, (small, large)
    save_model(tiny(family, init_std=0.2), tmp_path / family)
    config = json.loads((tmp_path / family / "config.json").read_text())
    assert config["init_std" if family == "llada" else "initializer_range"] == 0.2


def test_llada_mitchell_init_scales_each_matrix_by_fan_in_and_depth(tmp_path):
    """LLaDA's default init_fn (mitchell): σ = 1/√fan_in, residual outputs ÷ √(2·(layer+1)),
    truncated at 3σ; init_std plays no part; the config records it."""
    arch = {**ARCH, "hidden_size": 64, "intermediate_size": 256, "num_layers": 3, "num_kv_heads": 4}
    model = build_model("llada", arch | {"init_std": 0.5}, 512, MAX_LEN, {**IDS, "mask": 511}, seed=0)
    backbone = model.backbone

    def check(weight: torch.Tensor, std: float) -> None:
        weight = weight.detach()
        assert abs(float(weight.std()) - 0.986 * std) < 0.1 * std, (float(weight.std()), std)
        assert float(weight.abs().max()) <= 3 * std + 1e-6

    check(backbone.model.embed_tokens.weight, 64 ** -0.5)
    check(backbone.lm_head.weight, 64 ** -0.5)
    for layer_id, layer in enumerate(backbone.model.layers):
        check(layer.self_attn.q_proj.weight, 64 ** -0.5)
        check(layer.mlp.up_proj.weight, 64 ** -0.5)
        check(layer.self_attn.o_proj.weight, (2 * 64 * (layer_id + 1)) ** -0.5)
        check(layer.mlp.down_proj.weight, (2 * 256 * (layer_id + 1)) ** -0.5)
    save_model(model, tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["init_fn"] == "mitchell"


def test_unknown_llada_init_fn_is_named():
    with pytest.raises(ValueError, match="init_fn='kaiming_normal'"):
        tiny("llada", init_fn="kaiming_normal")
    with pytest.raises(ValueError, match="arch.init_fn.*qwen2"):
        tiny("qwen2", init_fn="mitchell")


def test_build_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_draw = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = tiny("llada", seed=5), tiny("llada", seed=5), tiny("llada", seed=6)
    assert torch.equal(torch.rand(1), expected_draw)
    wa, wb, wc = (m.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


# ----- attention observation --------------------------------------------------------------------
@pytest.mark.parametrize("family", ["llada", "qwen2"])
def test_observed_mass_sums_to_heads_times_queries(family):
    model = tiny(family)
    ids = tokens(batch=2, length=10)
    plain = model(ids)
    with model.observe_attention() as record:
        observed = model(ids)
    assert torch.allclose(observed, plain, atol=1e-5)
    per_head = record.per_head
    assert per_head.shape == (2, 2, 4, 10) and per_head.dtype == torch.float32
    assert torch.allclose(per_head.sum(-1), torch.full((2, 2, 4), 10.0))
    assert torch.allclose(record.mass.sum(-1), torch.full((2,), 2 * 4 * 10.0))
    if model.is_causal:  # key j is seen only by queries j … S−1
        assert (per_head[..., -1] <= 1 + 1e-6).all()
    assert model.backbone.config._attn_implementation == "sdpa"


def test_observed_mass_matches_direct_softmax_of_layer_zero():
    model = tiny("llada")
    ids = tokens(batch=1, length=9)
    with model.observe_attention() as record:
        model(ids)
    hidden, ctx = model.embed(ids)
    attn = model.layers[0].self_attn
    h = model.layers[0].input_layernorm(hidden)
    q = attn.q_proj(h).view(1, 9, 4, 8).transpose(1, 2)
    k = attn.k_proj(h).view(1, 9, 2, 8).transpose(1, 2).repeat_interleave(2, dim=1)
    cos, sin = ctx.position_embeddings

    def rope(t):
        return t * cos[:, None] + torch.cat([-t[..., 4:], t[..., :4]], dim=-1) * sin[:, None]

    probs = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(8), dim=-1)
    assert torch.allclose(record.per_head[0], probs.sum(dim=2), atol=1e-5)


def test_recorder_refuses_incomplete_pass():
    model = tiny("llada")
    with model.observe_attention() as record:
        hidden, ctx = model.embed(tokens())
        model.run_layer(0, hidden, ctx)
        with pytest.raises(RuntimeError, match="layers"):
            _ = record.per_head


# ----- structured pruning widths -----------------------------------------------------------------
@pytest.mark.parametrize("family", ["llada", "dream"])
def test_per_layer_intermediate_sizes_round_trip(family, tmp_path):
    model = tiny(family)
    reference = tiny(family)
    keep = torch.arange(0, 48, 2)  # 24 of 48 channels in layer 0
    dropped = torch.arange(1, 48, 2)
    with torch.no_grad():  # zeroing a channel's gate row removes it exactly (silu(0) = 0)
        reference.layers[0].mlp.gate_proj.weight[dropped] = 0
    model.keep_mlp_channels(0, keep)
    ids = tokens()
    assert model.intermediate_sizes() == [24, 48]
    assert torch.allclose(model(ids), reference(ids), atol=1e-5)
    save_model(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config[PER_LAYER_INTERMEDIATE_KEY] == [24, 48]
    reloaded = load_model(tmp_path)
    assert reloaded.intermediate_sizes() == [24, 48]
    assert torch.equal(reloaded(ids), model(ids))


def test_uniform_shrink_rewrites_the_family_key(tmp_path):
    model = tiny("llada")
    for i in range(2):
        model.keep_mlp_channels(i, torch.arange(16))
    save_model(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["mlp_hidden_size"] == 16 and PER_LAYER_INTERMEDIATE_KEY not in config
    assert load_model(tmp_path).intermediate_sizes() == [16, 16]


def test_transfer_weights_initialises_dream_from_ar():
    source = tiny("qwen2", seed=1)
    target = tiny("dream", seed=2)
    copied = transfer_weights(source, target)
    assert "model.layers.0.self_attn.q_proj.bias" in copied
    for name, tensor in source.backbone.named_parameters():
        assert torch.equal(dict(target.backbone.named_parameters())[name], tensor)
    llama = tiny("llama", seed=3, tie_embeddings=True)
    target = tiny("dream", seed=4)
    transfer_weights(llama, target)
    assert torch.equal(target.backbone.lm_head.weight, llama.backbone.model.embed_tokens.weight)


# ----- sampler -----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["llada", "dream"])
def test_remasking_sampler_fills_all_masks_deterministically(family):
    model = tiny(family)
    prompt = tokens(batch=2, length=5)
    snapshots = []
    out = generate(model, prompt, gen_length=8, steps=4, block_length=4,
                   on_step=lambda step, x: snapshots.append((step, x)))
    assert out.shape == (2, 13) and out.dtype == torch.long
    assert torch.equal(out[:, :5], prompt)
    assert not (out == model.mask_id).any()
    assert torch.equal(out, generate(model, prompt, gen_length=8, steps=4, block_length=4))
    assert [s for s, _ in snapshots] == [0, 1, 2, 3]
    first_step = snapshots[0][1]
    assert (first_step[:, 5:] == model.mask_id).all()
    after_block_one = snapshots[2][1]  # two steps of two tokens each filled block one only
    assert not (after_block_one[:, 5:9] == model.mask_id).any()
    assert (after_block_one[:, 9:] == model.mask_id).all()


def test_remasking_commits_most_confident_first():
    model = tiny("llada")
    prompt = tokens(batch=1, length=4)
    snapshots = []
    generate(model, prompt, gen_length=6, steps=6, block_length=6, on_step=lambda s, x: snapshots.append(x))
    x0 = snapshots[0]
    logits = model.position_logits(x0)
    logits[..., model.mask_id] = float("-inf")
    confidence = torch.softmax(logits.double(), -1).amax(-1)[0, 4:]
    first_commit = int((snapshots[1][0, 4:] != model.mask_id).nonzero()[0])
    assert first_commit == int(confidence.argmax())


def test_ar_sampler_is_greedy_decoding():
    model = tiny("llama")
    prompt = tokens(batch=1, length=4)
    out = generate(model, prompt, gen_length=5, steps=5, block_length=5)
    x = prompt
    for _ in range(5):
        x = torch.cat([x, model(x)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, x)


def test_sampler_inside_observe_attention_sees_each_step():
    model = tiny("llada")
    masses = []
    with model.observe_attention() as record:
        generate(model, tokens(batch=1, length=4), gen_length=4, steps=2, block_length=4,
                 on_step=lambda step, x: masses.append(record.mass.clone()))
    assert len(masses) == 2 and masses[0].shape == (1, 8)
    assert not torch.equal(masses[0], masses[1])


def test_llada_bos_comes_from_generation_config_when_config_lacks_it(saved, tmp_path):
    config = json.loads((saved["llada"] / "config.json").read_text())
    del config["bos_token_id"]  # as in GSAI-ML/LLaDA-8B-* config.json
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}))
    (tmp_path / "model.safetensors").write_bytes((saved["llada"] / "model.safetensors").read_bytes())
    assert load_model(tmp_path).bos_id == 1
    out = tmp_path / "copy"
    save_model(load_model(tmp_path), out)
    assert (out / "generation_config.json").is_file()


def test_nested_config_values_survive_load_and_save(saved, tmp_path):
    config = json.loads((saved["llama"] / "config.json").read_text())
    config["rope_scaling"] = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8, "rope_type": "llama3"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((saved["llama"] / "model.safetensors").read_bytes())
    model = load_model(tmp_path)
    assert not torch.equal(model.backbone.model.rotary_emb.inv_freq,
                           load_model(saved["llama"]).backbone.model.rotary_emb.inv_freq)
    save_model(model, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "config.json").read_text())["rope_scaling"] == config["rope_scaling"]
