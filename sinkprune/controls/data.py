"""Token rows of the controls: ``BOS, random tokens, EOS`` (the pruning control: a first token
in place of BOS) drawn from a seed.

The controls build their own models (vocabulary of ``vocab_size`` ids, specials as in
``planted.SPECIAL_IDS``), so they need no tokenizer, corpus or trained model: the same rows and
models exist at every scale. A planted sink depends only on where BOS, EOS and the mask tokens
sit, and an untrained model's attention depends on token content only through its random
embeddings, so uniform random tokens serve as well as text.
"""

from __future__ import annotations

import torch

from sinkprune.controls.planted import SPECIAL_IDS


def control_rows(n: int, seq_len: int, vocab_size: int, seed: int) -> torch.Tensor:
    """LongTensor ``[n, seq_len]``: BOS first, EOS last, uniform non-special tokens between."""
    first = max(SPECIAL_IDS.values()) + 1
    if vocab_size <= first or seq_len < 3:
        raise ValueError(f"controls need vocab_size > {first} and seq_len >= 3, got {vocab_size}, {seq_len}")
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(first, vocab_size, (n, seq_len), generator=generator)
    ids[:, 0] = SPECIAL_IDS["bos"]
    ids[:, -1] = SPECIAL_IDS["eos"]
    return ids


def sink_first_rows(n: int, seq_len: int, vocab_size: int, first_tokens: list[int], seed: int) -> torch.Tensor:
    """LongTensor ``[n, seq_len]`` of the pruning control: row i starts with
    ``first_tokens[i % len(first_tokens)]`` (each first token once per ``len(first_tokens)`` rows),
    EOS last, uniform tokens above every special and first-token id between."""
    first = max(max(SPECIAL_IDS.values()), *first_tokens) + 1
    if vocab_size <= first or seq_len < 3:
        raise ValueError(f"the pruning control needs vocab_size > {first} and seq_len >= 3, "
                         f"got {vocab_size}, {seq_len}")
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(first, vocab_size, (n, seq_len), generator=generator)
    ids[:, 0] = torch.tensor(first_tokens)[torch.arange(n) % len(first_tokens)]
    ids[:, -1] = SPECIAL_IDS["eos"]
    return ids
