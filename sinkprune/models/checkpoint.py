"""Load, save and build ``SinkModel``s in each family's real on-disk format.

A checkpoint directory holds ``config.json`` (the family's own keys) and safetensors weights
under the family's own parameter names, either one ``model.safetensors`` or shards listed in
``model.safetensors.index.json``. No ``trust_remote_code``: the family code in ``families.py``
maps the files onto transformers' Llama / Qwen2 modules.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from sinkprune.hub import CHECKPOINT_FILES, REPO_ID
from sinkprune.models.families import PER_LAYER_INTERMEDIATE_KEY, Family, detect_family, get_family
from sinkprune.models.sink_model import SinkModel

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
# Files next to the weights that belong to the model (tokenizer, generation defaults); copied
# when a loaded model is saved elsewhere so the new directory is usable on its own.
_COMPANION_PATTERNS = ("tokenizer*", "special_tokens_map.json", "generation_config.json", "*.jinja",
                       "vocab.json", "merges.txt")


def resolve_checkpoint(name_or_path: str | Path, local_files_only: bool = True) -> Path:
    """Directory of a local checkpoint, or of a Hugging Face snapshot for a hub id.

    Raises FileNotFoundError naming the path or id when it cannot be found (offline: when the
    id is not in the local Hugging Face cache). Compute jobs read the cache only: hub ids are
    fetched beforehand by `snakemake download` (sinkprune.download), on a machine with network.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    text = str(name_or_path)
    if path.exists() or not REPO_ID.fullmatch(text) or text.startswith((".", "/", "~")):
        raise FileNotFoundError(f"model directory {text!r} does not exist")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=text, local_files_only=local_files_only,
                                      allow_patterns=list(CHECKPOINT_FILES)))
    except Exception as error:  # hub errors differ by cause (offline, missing, gated); one message
        where = "the local Hugging Face cache" if local_files_only else "the Hugging Face hub"
        raise FileNotFoundError(
            f"model {text!r} is neither a local directory nor available from {where} "
            f"({type(error).__name__}: {error}). Fetch it first where there is network: "
            f"`snakemake download --configfile CONFIG` (or `hf download {text}`).") from error


def read_config(directory: Path) -> dict[str, Any]:
    """The checkpoint's config.json as a dict."""
    path = directory / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: missing config.json")
    return json.loads(path.read_text())


def weight_files(directory: Path) -> list[Path]:
    """Safetensors files of the checkpoint (single file preferred over a sharded index)."""
    single = directory / SINGLE_FILE
    if single.is_file():
        return [single]
    index = directory / INDEX_FILE
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [s for s in shards if not (directory / s).is_file()]
        if missing:
            raise FileNotFoundError(f"{directory}: {INDEX_FILE} lists missing weight files {missing}")
        return [directory / s for s in shards]
    raise FileNotFoundError(f"{directory}: no weights file ({SINGLE_FILE} or {INDEX_FILE})")


def _intermediate_sizes(family: Family, raw: dict[str, Any], num_layers: int) -> list[int]:
    sizes = raw.get(PER_LAYER_INTERMEDIATE_KEY)
    if sizes is None:
        return [family.uniform_intermediate_size(raw)] * num_layers
    if len(sizes) != num_layers:
        raise ValueError(f"config {PER_LAYER_INTERMEDIATE_KEY} has {len(sizes)} entries for {num_layers} layers")
    return [int(s) for s in sizes]


def _resize_mlps(model: nn.Module, sizes: list[int]) -> None:
    # Structured pruning leaves layers of different widths; give each layer its own.
    for layer, size in zip(model.model.layers, sizes):
        mlp = layer.mlp
        if mlp.down_proj.in_features == size:
            continue
        kind = dict(device=mlp.down_proj.weight.device, dtype=mlp.down_proj.weight.dtype)
        hidden = mlp.down_proj.out_features
        mlp.gate_proj = nn.Linear(hidden, size, bias=mlp.gate_proj.bias is not None, **kind)
        mlp.up_proj = nn.Linear(hidden, size, bias=mlp.up_proj.bias is not None, **kind)
        mlp.down_proj = nn.Linear(size, hidden, bias=mlp.down_proj.bias is not None, **kind)
        mlp.intermediate_size = size


def _backbone(family: Family, raw: dict[str, Any], on_meta: bool) -> nn.Module:
    config = family.backbone_config(raw)
    # nn.Embedding(padding_idx=pad) would freeze the pad row's gradient during training; upstream
    # LLaDA has no padding_idx and LLaDA's pad is its eos. Pad ids live on SinkModel instead.
    config.pad_token_id = None
    config._attn_implementation = "sdpa"
    if on_meta:
        with torch.device("meta"):
            model = family.backbone_class(config)
    else:
        model = family.backbone_class(config)
    _resize_mlps(model, _intermediate_sizes(family, raw, config.num_hidden_layers))
    return model


def _random_backbone(family: Family, raw: dict[str, Any], seed: int) -> nn.Module:
    """The family's random init of ``raw``'s architecture, drawn from ``seed`` without touching
    the global RNG state; in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = _backbone(family, raw, on_meta=False)
        family.initialise(backbone, raw)
    return backbone.eval()


def _read_state(files: list[Path], family: Family, dtype: torch.dtype,
                device: torch.device) -> dict[str, torch.Tensor]:
    state = {}
    for file in files:
        # Read on the host, cast, then copy: the device only ever holds the tensor in ``dtype``.
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            for name in handle.keys():
                try:
                    target = family.to_backbone_name(name)
                except KeyError as error:
                    raise ValueError(f"{file}: {error.args[0]}") from None
                # One tensor at a time: an 8B checkpoint is never held in two dtypes at once.
                state[target] = handle.get_tensor(name).to(dtype).to(device)
    return state


def _fresh_rotary(backbone: nn.Module, device: torch.device) -> None:
    # RoPE frequencies are non-persistent buffers: not in the file, so rebuilt off the meta device.
    # Built on the host and moved, in float32 whatever the weights' dtype (as transformers keeps them).
    with torch.device("cpu"):
        rotary = type(backbone.model.rotary_emb)(config=backbone.config)
    backbone.model.rotary_emb = rotary.to(device)


def to_placement(model: SinkModel, device: torch.device | str, dtype: torch.dtype) -> SinkModel:
    """Move a built model's weights to ``device`` and cast them to ``dtype`` in place.

    ``nn.Module.to(dtype)`` would also cast the RoPE frequencies; they are rebuilt in float32.
    """
    device = torch.device(device)
    if model.device == device and model.dtype == dtype:
        return model
    model.backbone.to(device=device, dtype=dtype)
    _fresh_rotary(model.backbone, device)
    return model


def load_model(name_or_path: str | Path, family: str | None = None, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu", local_files_only: bool = True) -> SinkModel:
    """Load a checkpoint (local directory or Hugging Face id) in its family's on-disk format.

    Weights are cast to ``dtype`` and placed on ``device`` one tensor at a time (config keys
    ``dtype`` / ``device``, see ``sinkprune.device``).
    The family is read from config.json (``architectures``, else ``model_type``) unless given.
    Errors name the missing file, unknown architecture, or unexpected / missing parameter.
    """
    device = torch.device(device)
    directory = resolve_checkpoint(name_or_path, local_files_only)
    raw = read_config(directory)
    spec = get_family(family) if family else detect_family(raw, where=str(directory))
    files = weight_files(directory)
    backbone = _backbone(spec, raw, on_meta=True)
    state = _read_state(files, spec, dtype, device)
    tied = spec.ties_embeddings(raw)
    expected = set(backbone.state_dict().keys()) - ({"lm_head.weight"} if tied else set())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        name = spec.from_backbone_name
        raise ValueError(f"{directory}: weights do not match the {spec.name} config: "
                         f"missing {[name(k) for k in missing][:8]}, unexpected {[name(k) for k in unexpected][:8]}")
    for key, tensor in state.items():
        current = backbone.get_parameter(key)
        if current.shape != tensor.shape:
            raise ValueError(f"{directory}: {spec.from_backbone_name(key)} has shape {tuple(tensor.shape)}, "
                             f"config implies {tuple(current.shape)}")
    backbone.load_state_dict(state, strict=False, assign=True)
    if tied:
        backbone.lm_head.weight = backbone.model.embed_tokens.weight
    _fresh_rotary(backbone, device)
    backbone.eval()
    model = SinkModel(spec, raw, backbone, source_dir=directory)
    _set_bos(model, directory)
    return model


def _set_bos(model: SinkModel, directory: Path) -> None:
    # The family's BOS rule (special_tokens.py): calibration and evaluation ask the same function.
    from sinkprune.models.special_tokens import bos_id

    bos = bos_id(directory, model.family)
    model.bos_id, model.bos_source = bos.id, bos.source


def build_model(family: str, arch: dict, vocab_size: int, max_seq_len: int, special_ids: dict[str, int],
                seed: int) -> SinkModel:
    """Randomly initialised fp32 model of ``family`` (mini zoo).

    ``arch``: hidden_size, num_layers, num_heads, intermediate_size, tie_embeddings, optional
    num_kv_heads, rope_theta, init_std and (llada) init_fn. ``special_ids``: bos, eos, pad,
    mask (mask optional for AR).
    Initialisation is the family's (:meth:`Family.initialise`: LLaDA's ``init_fn``, else
    transformers' normal with ``init_std``; zero biases; unit norms), drawn from ``seed``
    without touching the global RNG state.
    """
    spec = get_family(family)
    if "init_fn" in arch and spec.name != "llada":
        raise ValueError(f"arch.init_fn is a llada-family setting; family {spec.name} uses arch.init_std")
    raw = spec.template(arch, vocab_size, max_seq_len, special_ids)
    return SinkModel(spec, raw, _random_backbone(spec, raw, seed))


def random_like(name_or_path: str | Path, seed: int, local_files_only: bool = True,
                dtype: torch.dtype = torch.float32) -> SinkModel:
    """A randomly initialised model with the architecture (config.json) of a checkpoint.

    The untrained control of the sink analysis at paper scale: same family, sizes and special
    ids, the family's init drawn from ``seed``; the checkpoint's weights are never read. The
    init is drawn in float32 on the host (the same weights on every machine), then cast to
    ``dtype`` (config ``dtype``), the precision the trained model is analysed in.
    """
    directory = resolve_checkpoint(name_or_path, local_files_only)
    raw = read_config(directory)
    spec = detect_family(raw, where=str(directory))
    model = SinkModel(spec, raw, _random_backbone(spec, raw, seed), source_dir=directory)
    to_placement(model, "cpu", dtype)
    _set_bos(model, directory)
    return model


def save_model(model: SinkModel, path: str | Path) -> None:
    """Write ``config.json`` and ``model.safetensors`` in the family's on-disk format.

    Weights are written in the model's dtype (a bfloat16 model gives a bfloat16 file and
    ``torch_dtype: bfloat16``), copied to the host first. Tied output heads are left out of the
    file, as upstream does. Tokenizer and generation files of the directory the model was loaded
    from are copied along when absent.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    spec = model.spec
    tied = spec.ties_embeddings(model.raw_config)
    state = {}
    for key, tensor in model.backbone.state_dict().items():
        if tied and key == "lm_head.weight":
            continue
        state[spec.from_backbone_name(key)] = tensor.detach().contiguous().cpu()
    save_file(state, str(path / SINGLE_FILE), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(model.current_config(), indent=2, sort_keys=True) + "\n")
    if model.source_dir is not None and model.source_dir.resolve() != path.resolve():
        for pattern in _COMPANION_PATTERNS:
            for file in model.source_dir.glob(pattern):
                if file.is_file() and not (path / file.name).exists():
                    shutil.copy2(file, path / file.name)


def transfer_weights(source: SinkModel, target: SinkModel) -> list[str]:
    """Copy every parameter of ``source`` into ``target`` where name and shape agree.

    For initialising one family from another (Dream from an AR Qwen2/Llama). Target parameters
    the source lacks keep their values (e.g. Dream's q/k/v biases, zero at init); any source
    weight without a same-shaped home in the target is an error. Returns the copied names.
    """
    target_params = dict(target.backbone.named_parameters())
    copied = []
    with torch.no_grad():
        for name, tensor in source.backbone.named_parameters():
            if name not in target_params or target_params[name].shape != tensor.shape:
                raise ValueError(f"cannot transfer {name} {tuple(tensor.shape)} from {source.family} "
                                 f"to {target.family}")
            target_params[name].copy_(tensor)
            copied.append(name)
        source_tied = "lm_head.weight" not in dict(source.backbone.named_parameters())
        if source_tied and "lm_head.weight" in target_params:
            # An untied target head starts as the source's shared embedding matrix.
            target_params["lm_head.weight"].copy_(source.backbone.model.embed_tokens.weight)
            copied.append("lm_head.weight")
    return copied
