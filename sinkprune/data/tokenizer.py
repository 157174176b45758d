"""Byte-level BPE tokenizer with the special tokens masked-diffusion models need.

BOS goes first in every sequence (it is what lets a first-token sink form, docs/mini.md); MASK is
the diffusion mask; image tokens are the discrete codebook of the MMaDA stand-in.
Digits are split one per token so arithmetic skills are learnable by tiny models.
"""

from __future__ import annotations

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


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load the tokenizer of a directory (ours or a checkpoint's) or of a Hugging Face id (offline)."""
    from transformers import AutoTokenizer

    local = Path(path)
    if local.exists() and not (local / "tokenizer.json").exists():
        raise FileNotFoundError(f"no tokenizer.json in {local}")
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except OSError as error:
        raise FileNotFoundError(f"tokenizer {path} is not available locally: {error}") from None
