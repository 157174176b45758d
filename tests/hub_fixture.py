"""A local Hugging Face cache that looks like one `snakemake download` filled for the paper.

``build_hub_cache(home)`` writes, under ``home`` (use it as ``HF_HOME``):

- ``hub/``: huggingface_hub's cache layout, ``models--ORG--NAME`` / ``datasets--ORG--NAME`` with
  ``blobs/`` (LFS files named by sha256, other files by their git blob sha1, as the hub's
  etags are), ``refs/main`` (the commit) and ``snapshots/<commit>/...`` (relative symlinks into
  ``blobs/``). It holds tiny random checkpoints under the five model ids of config/paper.yaml,
  each with its real checkpoint's quirks:

  * GSAI-ML/LLaDA-8B-Base: LLaDA config keys and parameter names, sharded safetensors with an
    index, no ``bos_token_id`` in config.json, BOS only in generation_config.json, a
    ``tokenizer.json`` fast tokenizer (``<|startoftext|>``, ``<|endoftext|>``, ``<|mdm_mask|>``).
  * GSAI-ML/LLaDA-1.5: as LLaDA, but its generation_config.json names no BOS (the case the BOS
    rule falls back to the tokenizer for).
  * Gen-Verse/MMaDA-8B-Base: LLaDA names, ``MMadaModelLM`` / ``mmada``, an embedding larger than
    the text vocabulary (text + image codebook: ``llm_vocab_size``, ``codebook_size``,
    ``new_vocab_size``), no generation_config.json.
  * Dream-org/Dream-v0-Base-7B: Qwen2 names with q/k/v bias, ``DreamModel`` / ``Dream``,
    ``mask_token_id`` (the id after ``<|beginoftext|>``, as 151666 follows 151665), bos = eos =
    pad = ``<|endoftext|>`` in config.json; the tokenizer as Dream ships it: ``vocab.json`` +
    ``merges.txt`` byte-level BPE, ``tokenizer_config.json`` naming the remote-code class
    ``DreamTokenizer`` in ``auto_map`` with its added tokens, ``special_tokens_map.json`` and a
    ``tokenization_dream.py`` that raises if anything executes it.
  * Qwen/Qwen2.5-7B: causal Qwen2, ``tokenizer.json`` + ``vocab.json`` + ``merges.txt``,
    ``"bos_token": null`` in tokenizer_config.json.

- the datasets the paper config needs, twice, because ``datasets`` reads them from two places:
  the hub snapshot (``datasets--ORG--NAME``, parquet as the hub serves them; GPQA as CSV, as
  Idavidrein/gpqa ships it) is what ``load_dataset`` downloads, and ``datasets/`` (the prepared
  Arrow cache, ``ORG___NAME/CONFIG/0.0.0/HASH``) is the only place it reads offline (datasets
  5.2: with ``HF_HUB_OFFLINE=1`` ``load_dataset`` never opens the hub snapshot and goes
  straight to ``CachedDatasetModuleFactory``). The Arrow cache is prepared from the snapshot
  through ``datasets``' own builder, configured from the README's ``configs:`` as online.

Task rows are tiny (a few per split, enough for the shots the paper uses) but have every
column lm-eval's task YAMLs and ``process_docs`` read. ``mmlu`` is all 57 subjects because the
lm-eval group loads every subject's dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

TEXT_WORDS = ("the of and to in a is was for on as with by at from his her that which were are "
              "river city valley army king church music album season game team war during after "
              "north south first second year years water people world history station school").split()
LFS_SUFFIXES = (".safetensors", ".parquet", ".bin")
ARCH = {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 64,
        "tie_embeddings": False}
MAX_LEN = 256


# ----- hub cache layout ---------------------------------------------------------------------------
def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def add_repo(hub: Path, repo_id: str, files: dict[str, bytes], repo_type: str = "model") -> Path:
    """Store ``files`` (path in repo → bytes) as one commit of ``repo_id``; returns the snapshot dir."""
    folder = hub / f"{repo_type}s--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(json.dumps([repo_id, sorted(files)]).encode()).hexdigest()
    snapshot = folder / "snapshots" / commit
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    for name, data in sorted(files.items()):
        etag = hashlib.sha256(data).hexdigest() if name.endswith(LFS_SUFFIXES) else _git_blob_sha1(data)
        blob = folder / "blobs" / etag
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


def _directory_files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# ----- text and tokenizers ------------------------------------------------------------------------
def wiki_text(n_paragraphs: int, seed: int) -> list[str]:
    """WikiText-like lines: headings, paragraphs of lowercase words and numbers."""
    rng = random.Random(seed)
    lines = []
    for p in range(n_paragraphs):
        if p % 5 == 0:
            lines.append(f" = {rng.choice(TEXT_WORDS).title()} {rng.choice(TEXT_WORDS)} = \n")
        words = [rng.choice(TEXT_WORDS) if rng.random() > 0.1 else str(rng.randint(1, 2000)) for _ in range(60)]
        lines.append(" " + " ".join(words) + " . \n")
    return lines


def _byte_level_bpe(vocab_size: int, qwen_split: bool):
    """A tiny trained byte-level BPE (``tokenizers``), pretokenized as Qwen2 or as GPT-2 does."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    if qwen_split:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(wiki_text(300, seed=1), trainer=trainer)
    return tok


def _bpe_files(tok) -> tuple[bytes, bytes]:
    """vocab.json and merges.txt of a trained ``tokenizers`` BPE, as GPT-2 / Qwen2 ship them."""
    data = json.loads(tok.to_str())["model"]
    vocab = json.dumps(data["vocab"], ensure_ascii=False).encode()
    merges = ["#version: 0.2"] + [" ".join(m) if isinstance(m, list) else m for m in data["merges"]]
    return vocab, ("\n".join(merges) + "\n").encode()


def _added(token: str) -> dict[str, Any]:
    return {"content": token, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": True}


def llada_tokenizer_files() -> tuple[dict[str, bytes], dict[str, int]]:
    """LLaDA's tokenizer files (tokenizer.json fast tokenizer) and its special ids."""
    from transformers import PreTrainedTokenizerFast

    tok = _byte_level_bpe(300, qwen_split=False)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": ["<|mdm_mask|>"]})
    ids = {"bos": fast.convert_tokens_to_ids("<|startoftext|>"), "eos": fast.convert_tokens_to_ids("<|endoftext|>"),
           "mask": fast.convert_tokens_to_ids("<|mdm_mask|>")}
    ids["pad"] = ids["eos"]
    files = _saved_tokenizer(fast)
    config = json.loads(files["tokenizer_config.json"])
    config["tokenizer_class"] = "PreTrainedTokenizerFast"  # as GSAI-ML's tokenizer_config.json says
    files["tokenizer_config.json"] = json.dumps(config, indent=2).encode()
    return files, ids


def qwen_tokenizer_files() -> tuple[dict[str, bytes], dict[str, int]]:
    """Qwen2.5's tokenizer files: tokenizer.json + vocab.json + merges.txt, ``bos_token`` null."""
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    tok = _byte_level_bpe(300, qwen_split=True)
    data = json.loads(tok.to_str())["model"]
    fast = Qwen2Tokenizer(vocab=data["vocab"], merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" "))
                                                       for m in data["merges"]])
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    files = _saved_tokenizer(fast)
    config = json.loads(files["tokenizer_config.json"])
    config.update({"bos_token": None, "tokenizer_class": "Qwen2Tokenizer"})
    files["tokenizer_config.json"] = json.dumps(config, indent=2).encode()
    files["vocab.json"], files["merges.txt"] = _bpe_files(tok)
    eos = fast.convert_tokens_to_ids("<|endoftext|>")
    return files, {"bos": eos, "eos": eos, "pad": eos}


def dream_tokenizer_files() -> tuple[dict[str, bytes], dict[str, int]]:
    """Dream's tokenizer files as Dream-org ships them: vocab.json + merges.txt, a remote-code
    tokenizer class in tokenizer_config.json and its added tokens; no tokenizer.json."""
    tok = _byte_level_bpe(300, qwen_split=True)
    vocab, merges = _bpe_files(tok)
    base = len(json.loads(vocab))
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|beginoftext|>", "<|mask|>"]
    ids = {t: base + i for i, t in enumerate(specials)}
    config = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[t]): _added(t) for t in specials},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "auto_map": {"AutoTokenizer": ["tokenization_dream.DreamTokenizer", None]},
        "bos_token": "<|beginoftext|>", "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>",
        "errors": "replace", "mask_token": "<|mask|>", "model_max_length": 131072, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "DreamTokenizer", "unk_token": None,
    }
    special_map = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": "<|beginoftext|>",
                   "eos_token": "<|endoftext|>", "mask_token": "<|mask|>", "pad_token": "<|endoftext|>"}
    files = {"vocab.json": vocab, "merges.txt": merges,
             "tokenizer_config.json": json.dumps(config, indent=2).encode(),
             "special_tokens_map.json": json.dumps(special_map, indent=2).encode(),
             # Anything that imports this (trust_remote_code) fails the test that loads the tokenizer.
             "tokenization_dream.py": b'raise RuntimeError("remote code executed: tokenization_dream.py")\n'}
    eos = ids["<|endoftext|>"]
    return files, {"bos": eos, "eos": eos, "pad": eos, "mask": ids["<|mask|>"], "n_tokens": base + len(specials),
                   "tokenizer_bos": ids["<|beginoftext|>"]}


def _saved_tokenizer(tokenizer) -> dict[str, bytes]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        return _directory_files(Path(tmp))


# ----- checkpoints --------------------------------------------------------------------------------
def _shard(directory: Path, n_shards: int) -> None:
    """Split model.safetensors into ``n_shards`` files plus model.safetensors.index.json, as the
    real 7–8B checkpoints are stored."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(directory / "model.safetensors"))
    names = sorted(state)
    weight_map = {}
    for i in range(n_shards):
        shard = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {n: state[n] for n in names[i::n_shards]}
        save_file(part, str(directory / shard), metadata={"format": "pt"})
        weight_map |= {n: shard for n in part}
    total = sum(t.numel() * t.element_size() for t in state.values())
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, indent=2))
    (directory / "model.safetensors").unlink()


def _checkpoint(family: str, vocab: int, ids: dict[str, int], seed: int, edit: dict[str, Any],
                drop: tuple[str, ...] = (), shards: int = 1) -> dict[str, bytes]:
    import tempfile

    from sinkprune.models import build_model, save_model

    model = build_model(family, ARCH, vocab, MAX_LEN, {k: ids[k] for k in ("bos", "eos", "pad", "mask") if k in ids},
                        seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        save_model(model, out)
        config = json.loads((out / "config.json").read_text())
        for key in drop:
            config.pop(key, None)
        config.update(edit)
        config["torch_dtype"] = "bfloat16"
        (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        if shards > 1:
            _shard(out, shards)
        return _directory_files(out)


def _generation_config(**values: Any) -> bytes:
    return json.dumps({"_from_model_config": True, **values, "transformers_version": "4.46.3"}, indent=2).encode()


LLADA_AUTO_MAP = {"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModel": "modeling_llada.LLaDAModelLM",
                  "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"}


def model_repos() -> dict[str, dict[str, bytes]]:
    """Files of the five tiny checkpoints, by the real repo ids of config/paper.yaml."""
    llada_tok, lids = llada_tokenizer_files()
    text_vocab = 320  # embedding rows ≥ tokenizer size, as LLaDA's 126464 > 126349 tokens
    llada_edit = {"auto_map": LLADA_AUTO_MAP}
    repos = {
        "GSAI-ML/LLaDA-8B-Base": _checkpoint("llada", text_vocab, lids, 1, llada_edit, ("bos_token_id",), shards=2)
        | llada_tok | {"generation_config.json": _generation_config(bos_token_id=lids["bos"], eos_token_id=lids["eos"],
                                                                      pad_token_id=lids["pad"])},
        "GSAI-ML/LLaDA-1.5": _checkpoint("llada", text_vocab, lids, 2, llada_edit, ("bos_token_id",), shards=2)
        | llada_tok | {"generation_config.json": _generation_config(eos_token_id=lids["eos"], pad_token_id=lids["pad"])},
    }
    codebook = 64
    mmada_edit = {"architectures": ["MMadaModelLM"], "model_type": "mmada", "llm_vocab_size": text_vocab,
                  "codebook_size": codebook, "new_vocab_size": text_vocab + codebook, "num_vq_tokens": 16}
    repos["Gen-Verse/MMaDA-8B-Base"] = _checkpoint("llada", text_vocab + codebook, lids, 3, mmada_edit,
                                                   ("bos_token_id",)) | llada_tok
    dream_tok, dids = dream_tokenizer_files()
    dream_edit = {"architectures": ["DreamModel"], "model_type": "Dream",
                  "auto_map": {"AutoConfig": "configuration_dream.DreamConfig",
                               "AutoModel": "modeling_dream.DreamModel"}}
    repos["Dream-org/Dream-v0-Base-7B"] = _checkpoint("dream", dids["n_tokens"] + 27, dids, 4, dream_edit,
                                                      shards=2) | dream_tok | {
        "generation_config.json": _generation_config(bos_token_id=dids["bos"], eos_token_id=dids["eos"],
                                                     pad_token_id=dids["pad"])}
    qwen_tok, qids = qwen_tokenizer_files()
    repos["Qwen/Qwen2.5-7B"] = _checkpoint("qwen2", 330, qids, 5, {}, shards=2) | qwen_tok | {
        "generation_config.json": _generation_config(bos_token_id=qids["bos"], eos_token_id=qids["eos"],
                                                     do_sample=False, max_new_tokens=2048)}
    for files in repos.values():
        files["README.md"] = b"---\nlicense: other\n---\nTiny random stand-in for tests.\n"
        files[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    return repos


# ----- datasets -----------------------------------------------------------------------------------
MMLU_SUBJECTS = (
    "abstract_algebra anatomy astronomy business_ethics clinical_knowledge college_biology college_chemistry "
    "college_computer_science college_mathematics college_medicine college_physics computer_security "
    "conceptual_physics econometrics electrical_engineering elementary_mathematics formal_logic global_facts "
    "high_school_biology high_school_chemistry high_school_computer_science high_school_european_history "
    "high_school_geography high_school_government_and_politics high_school_macroeconomics high_school_mathematics "
    "high_school_microeconomics high_school_physics high_school_psychology high_school_statistics "
    "high_school_us_history high_school_world_history human_aging human_sexuality international_law "
    "jurisprudence logical_fallacies machine_learning management marketing medical_genetics miscellaneous "
    "moral_disputes moral_scenarios nutrition philosophy prehistory professional_accounting professional_law "
    "professional_medicine professional_psychology public_relations security_studies sociology us_foreign_policy "
    "virology world_religions").split()


def _sentence(rng: random.Random, n: int = 8) -> str:
    return " ".join(rng.choice(TEXT_WORDS) for _ in range(n))


def _rows(kind: str, n: int, rng: random.Random, config: str) -> dict[str, list]:
    """``n`` rows of one benchmark, with the columns its lm-eval task reads."""
    rows: dict[str, list] = {}

    def add(**values):
        for k, v in values.items():
            rows.setdefault(k, []).append(v)

    for i in range(n):
        if kind == "mmlu":
            add(question=_sentence(rng) + "?", subject=config, choices=[_sentence(rng, 3) for _ in range(4)],
                answer=rng.randrange(4))
        elif kind == "arc":
            add(id=f"q{i}", question=_sentence(rng) + "?",
                choices={"text": [_sentence(rng, 3) for _ in range(4)], "label": ["A", "B", "C", "D"]},
                answerKey="ABCD"[rng.randrange(4)])
        elif kind == "piqa":
            add(goal=_sentence(rng), sol1=_sentence(rng, 5), sol2=_sentence(rng, 5), label=rng.randrange(2))
        elif kind == "winogrande":
            add(sentence=_sentence(rng, 4) + " _ " + _sentence(rng, 4), option1=rng.choice(TEXT_WORDS),
                option2=rng.choice(TEXT_WORDS), answer=str(rng.randrange(1, 3)))
        elif kind == "gsm8k":
            a, b = rng.randrange(1, 50), rng.randrange(1, 50)
            add(question=f"What is {a} plus {b}?", answer=f"{a} + {b} = <<{a}+{b}={a + b}>>{a + b}\n#### {a + b}")
        elif kind == "hellaswag":
            add(ind=i, activity_label=rng.choice(TEXT_WORDS).title(), ctx_a=_sentence(rng), ctx_b=_sentence(rng, 3),
                ctx=_sentence(rng), endings=[_sentence(rng, 5) for _ in range(4)], source_id=f"src{i}",
                split="val", split_type="indomain", label=str(rng.randrange(4)))
        elif kind == "gpqa":
            add(**{"Question": _sentence(rng) + "?", "Correct Answer": _sentence(rng, 3),
                   "Incorrect Answer 1": _sentence(rng, 3), "Incorrect Answer 2": _sentence(rng, 3),
                   "Incorrect Answer 3": _sentence(rng, 3), "Record ID": f"rec{i}",
                   "High-level domain": "Physics", "Subdomain": "Optics"})
        elif kind == "race":
            problems = [{"question": _sentence(rng) + "?", "options": [_sentence(rng, 3) for _ in range(4)],
                         "answer": "ABCD"[rng.randrange(4)]} for _ in range(2)]
            add(article=" ".join(_sentence(rng) for _ in range(4)), problems=repr(problems),
                example_id=f"high{i}.txt")
        elif kind == "wikitext":
            add(text=wiki_text(1, seed=rng.randrange(10 ** 6))[0] if i % 3 else "")
        else:
            raise KeyError(kind)
    return rows


# repo id → (kind, file format, {config: {split: rows}}, layout of the files in the repo)
def dataset_specs() -> dict[str, tuple[str, str, dict[str, dict[str, int]]]]:
    """The datasets config/paper.yaml needs, as lm-eval 0.4.13's task YAMLs name them."""
    return {
        "Salesforce/wikitext": ("wikitext", "parquet", {"wikitext-2-raw-v1": {"train": 240, "validation": 12, "test": 12}}),
        "cais/mmlu": ("mmlu", "parquet", {s: {"test": 2, "validation": 1, "dev": 5} for s in MMLU_SUBJECTS}),
        "allenai/ai2_arc": ("arc", "parquet", {c: {"train": 6, "validation": 2, "test": 4}
                                               for c in ("ARC-Challenge", "ARC-Easy")}),
        "baber/piqa": ("piqa", "parquet", {"default": {"train": 6, "validation": 4}}),
        "allenai/winogrande": ("winogrande", "parquet", {"winogrande_xl": {"train": 8, "validation": 4}}),
        "openai/gsm8k": ("gsm8k", "parquet", {"main": {"train": 8, "test": 3}}),
        "Rowan/hellaswag": ("hellaswag", "parquet", {"default": {"train": 4, "validation": 4}}),
        "Idavidrein/gpqa": ("gpqa", "csv", {"gpqa_main": {"train": 8}}),
        "EleutherAI/race": ("race", "parquet", {"high": {"test": 4}}),
    }


def _dataset_files(repo_id: str, kind: str, fmt: str, configs: dict[str, dict[str, int]]) -> dict[str, bytes]:
    import tempfile

    import datasets

    rng = random.Random(repo_id)
    files: dict[str, bytes] = {}
    card_configs = []
    with tempfile.TemporaryDirectory() as tmp:
        for config, splits in configs.items():
            data_files = []
            for split, n in splits.items():
                folder = "data" if config == "default" else config
                name = f"{folder}/{split}-00000-of-00001.{fmt}" if fmt == "parquet" else f"{config}.csv"
                table = datasets.Dataset.from_dict(_rows(kind, n, rng, config))
                path = Path(tmp) / name.replace("/", "__")
                table.to_parquet(str(path)) if fmt == "parquet" else table.to_csv(str(path), index=False)
                files[name] = path.read_bytes()
                data_files.append({"split": split, "path": name})
            card_configs.append({"config_name": config, "data_files": data_files})
    gated = repo_id == "Idavidrein/gpqa"
    card = {"configs": card_configs, **({"extra_gated_prompt": "Agree not to reveal examples online."} if gated else {})}
    files["README.md"] = ("---\n" + yaml.safe_dump(card, sort_keys=False) + "---\nTiny stand-in for tests.\n").encode()
    files[".gitattributes"] = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    return files


def prepare_datasets_cache(snapshot: Path, repo_id: str, config: str, cache_dir: Path) -> None:
    """Write the Arrow cache ``load_dataset(repo_id, config)`` leaves after an online load, from
    the hub snapshot's files, through ``datasets``' own builder configured from the README."""
    from datasets.load import LocalDatasetModuleFactory, get_dataset_builder_class
    from datasets.naming import camelcase_to_snakecase

    name = camelcase_to_snakecase(repo_id.split("/")[-1])
    module = LocalDatasetModuleFactory(str(snapshot)).get_module()
    builder_cls = get_dataset_builder_class(module, dataset_name=name)
    kwargs = {k: v for k, v in module.builder_kwargs.items() if k not in ("base_path", "dataset_name")}
    builder = builder_cls(cache_dir=str(cache_dir), config_name=config, base_path=str(snapshot), dataset_name=name,
                          hash=module.hash, **kwargs)
    # Online the files are hf://datasets/{repo_id}@… URLs and the builder is given repo_id, which
    # names the cache directory ORG___NAME; here they are local, so repo_id is set afterwards.
    builder.repo_id = repo_id
    builder._cache_dir = builder._build_cache_dir()
    builder.download_and_prepare()


def build_hub_cache(home: Path) -> Path:
    """Fill ``home`` (an HF_HOME) with every model and dataset of the paper config; returns home."""
    import datasets

    datasets.disable_progress_bars()
    hub, datasets_cache = home / "hub", home / "datasets"
    for repo_id, files in model_repos().items():
        add_repo(hub, repo_id, files)
    for repo_id, (kind, fmt, configs) in dataset_specs().items():
        snapshot = add_repo(hub, repo_id, _dataset_files(repo_id, kind, fmt, configs), repo_type="dataset")
        for config in configs:
            prepare_datasets_cache(snapshot, repo_id, config, datasets_cache)
    return home


def snapshot(hub: Path, repo_id: str, repo_type: str = "model") -> Path:
    """The snapshot directory of ``repo_id`` in the hub cache ``hub``."""
    folder = hub / f"{repo_type}s--{repo_id.replace('/', '--')}"
    return folder / "snapshots" / (folder / "refs" / "main").read_text()


def copy_hub_cache(source: Path, target: Path) -> Path:
    """A private copy (symlinks kept) for a test that removes files."""
    shutil.copytree(source, target, symlinks=True)
    return target


if __name__ == "__main__":
    import sys

    print(build_hub_cache(Path(sys.argv[1])))
