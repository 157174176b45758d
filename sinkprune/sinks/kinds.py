"""Token kinds of sink positions: BOS, MASK, punctuation, other (docs/method.md §3)."""

from __future__ import annotations

import string
import sys
import unicodedata
from pathlib import Path

import numpy as np

KIND_NAMES = ("bos", "mask", "punct", "other")
BOS, MASK, PUNCT, OTHER = range(4)
PAD = -1


def is_punctuation(text: str) -> bool:
    """True for a non-empty string made only of punctuation (after stripping whitespace)."""
    text = text.strip()
    return bool(text) and all(c in string.punctuation or unicodedata.category(c).startswith("P") for c in text)


def punctuation_table(tokenizer, vocab_size: int) -> np.ndarray:
    """bool ``[vocab_size]``: token id decodes to punctuation only (ids past the tokenizer: False)."""
    n = min(len(tokenizer), vocab_size)
    texts = tokenizer.batch_decode([[i] for i in range(n)], skip_special_tokens=False)
    table = np.zeros(vocab_size, dtype=bool)
    table[:n] = [is_punctuation(t) for t in texts]
    return table


def load_punctuation(model_dir: str | Path | None, vocab_size: int) -> np.ndarray | None:
    """Punctuation table from the tokenizer saved beside a checkpoint, or None (logged) if absent."""
    if model_dir is None:
        return None
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        file = Path(model_dir) / "tokenizer.json"
        # tokenizer.json alone decodes ids; AutoTokenizer would also parse config.json, whose
        # model_type (llada, dream) transformers does not know.
        tokenizer = (PreTrainedTokenizerFast(tokenizer_file=str(file)) if file.is_file()
                     else AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True))
    except (OSError, ValueError) as error:
        print(f"sinks: no tokenizer in {model_dir} ({type(error).__name__}); punctuation kind unavailable",
              file=sys.stderr)
        return None
    return punctuation_table(tokenizer, vocab_size)


def token_kinds(ids: np.ndarray, bos_id: int | None, mask_id: int | None,
                punct: np.ndarray | None) -> np.ndarray:
    """int8 kinds of ``ids`` (any shape; negative ids are padding → −1).

    BOS wins over the rest, then MASK, then punctuation; without a punctuation table no token is
    classed as punctuation (the trajectory's metadata then says ``punct_known: false``).
    """
    ids = np.asarray(ids)
    kinds = np.full(ids.shape, OTHER, dtype=np.int8)
    valid = ids >= 0
    if punct is not None:
        kinds[valid & punct[np.clip(ids, 0, len(punct) - 1)]] = PUNCT
    if mask_id is not None:
        kinds[ids == mask_id] = MASK
    if bos_id is not None:
        kinds[ids == bos_id] = BOS
    kinds[~valid] = PAD
    return kinds
