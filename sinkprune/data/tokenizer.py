"""Byte-level BPE tokenizer with the special tokens masked-diffusion models need.

BOS goes first in every sequence (it is what lets a first-token sink form, docs/mini.md); MASK is
the diffusion mask; image tokens are the discrete codebook of the MMaDA stand-in.
Digits are split one per token so arithmetic skills are learnable by tiny models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD, MASK = "<|bos|>", "<|eos|>", "<|pad|>", "<|mask|>"


def image_token(code: int) -> str:
    """Name of the special token for image codebook entry ``code``."""
    return f"<|img_{code}|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int, image_tokens: int) -> PreTrainedTokenizerFast:
    """Train the BPE tokenizer on ``texts``; specials take the first ids (bos=0, eos=1, pad=2, mask=3)."""
    specials = [BOS, EOS, PAD, MASK] + [image_token(i) for i in range(image_tokens)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                   pad_token=PAD, mask_token=MASK)
    fast.model_max_length = 1 << 30
    return fast


def special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    """Ids of bos, eos, pad and mask, as the model builders expect them."""
    return {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id,
            "pad": tokenizer.pad_token_id, "mask": tokenizer.mask_token_id}


# Remote-code tokenizer classes (``auto_map`` in tokenizer_config.json) → the transformers class
# that computes the same thing from the same files. DreamTokenizer is Qwen2's byte-level BPE
# (vocab.json + merges.txt, Qwen2's pre-tokenizer regex) under another name; its docstring says so.
REMOTE_CODE_TWINS = {"DreamTokenizer": "Qwen2Tokenizer"}


def _remote_tokenizer_class(directory: Path) -> str | None:
    """Class name of a remote-code tokenizer named in tokenizer_config.json ``auto_map``, else None."""
    path = directory / "tokenizer_config.json"
    if not path.is_file():
        return None
    auto = (json.loads(path.read_text()).get("auto_map") or {}).get("AutoTokenizer")
    if not auto:
        return None
    names = [n for n in (auto if isinstance(auto, list) else [auto]) if n]
    return names[0].rsplit(".", 1)[-1] if names else None


def _without_remote_code(directory: Path, remote_class: str) -> PreTrainedTokenizerFast:
    """The remote-code tokenizer of ``directory`` as its transformers twin (a fast byte-level BPE
    built from vocab.json + merges.txt, with the special and added tokens of tokenizer_config.json)."""
    import transformers

    twin = REMOTE_CODE_TWINS.get(remote_class)
    if twin is None:
        raise ValueError(f"{directory}/tokenizer_config.json names the remote-code tokenizer {remote_class!r}, "
                         f"which sinkprune does not run (no trust_remote_code); known: {', '.join(REMOTE_CODE_TWINS)}")
    missing = [f for f in ("vocab.json", "merges.txt") if not (directory / f).is_file()]
    if missing and not (directory / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{directory}: {remote_class} needs {' and '.join(missing)}")
    return getattr(transformers, twin).from_pretrained(str(directory), local_files_only=True)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load the tokenizer of a directory (ours or a checkpoint's) or of a Hugging Face id, offline.

    Never runs remote code: a tokenizer whose tokenizer_config.json names a remote-code class
    (Dream's ``DreamTokenizer``) is built as its transformers twin from the same files. A hub
    id is looked up in the local cache only (`snakemake download` fills it).
    """
    from transformers import AutoTokenizer

    from sinkprune.models.checkpoint import resolve_checkpoint

    directory = resolve_checkpoint(path)
    remote = _remote_tokenizer_class(directory)
    if remote is not None:
        return _without_remote_code(directory, remote)
    try:
        # trust_remote_code=False: LLaDA's config.json maps AutoConfig to remote code, which
        # AutoTokenizer would otherwise ask about interactively (and fail in a batch job).
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(f"no usable tokenizer in {directory} (for {path}): {error}") from None
