"""Token streams for training and the calibration batch.

Training draws windows from two pretokenized streams: natural text (any offset) and synthetic
skill lines (windows start at a line start so examples are whole). The skill stream carries a
parallel flag per token marking each example's answer, for SFT-style rows
(sinkprune.models.train). Calibration windows come from the held-out text (or the config's
dataset): under ``protocol: corrected`` BOS first, paragraphs tokenised separately, drawn with a
torch.Generator; under ``protocol: released`` as VILA-Lab/Sink-Aware-Pruning draws them
(:func:`released_calibration_batch`).
"""

from __future__ import annotations

import random
from pathlib import Path
from types import EllipsisType

import torch
from transformers import PreTrainedTokenizerFast

from sinkprune.data.skills import Item


def _encode_blocks(tokenizer: PreTrainedTokenizerFast, blocks: list[str]) -> list[list[int]]:
    return tokenizer(blocks, add_special_tokens=False)["input_ids"]


def text_stream(tokenizer: PreTrainedTokenizerFast, text: str) -> torch.Tensor:
    """Token ids of ``text`` as one 1-D LongTensor (paragraphs encoded in a batch, for speed)."""
    paragraphs = [p + "\n\n" for p in text.split("\n\n") if p.strip()]
    ids = [i for block in _encode_blocks(tokenizer, paragraphs) for i in block]
    if not ids:
        raise ValueError("text stream is empty: the corpus produced no tokens")
    return torch.tensor(ids, dtype=torch.long)


def _concatenated(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoded lines as one stream, and the offset where each line starts."""
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
    starts = torch.cumsum(lengths, 0) - lengths
    return torch.tensor([i for e in encoded for i in e], dtype=torch.long), starts


def line_stream(tokenizer: PreTrainedTokenizerFast, lines: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids of newline-terminated ``lines`` concatenated, and the offset where each line starts."""
    return _concatenated(_encode_blocks(tokenizer, [line + "\n" for line in lines]))


def skill_stream(tokenizer: PreTrainedTokenizerFast,
                 examples: list[Item]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`line_stream` of the examples' lines, plus a bool flag per token: True on each
    example's response, its answer and the newline ending it (by character offsets, so BPE
    merges cannot shift it). The newline plays the part of the EOS that ends a response in
    LLaDA's SFT data: without it a model trained on answer-only noising never learns where an
    answer stops, and its generations run on (``"11"`` → ``"1101001000…"``)."""
    encoded = tokenizer([it.line + "\n" for it in examples], add_special_tokens=False,
                        return_offsets_mapping=True)
    ids, starts = _concatenated(encoded["input_ids"])
    flags = [len(it.prompt) <= begin for it, spans in zip(examples, encoded["offset_mapping"]) for begin, _ in spans]
    return ids, starts, torch.tensor(flags, dtype=torch.bool)


def build_streams(tokenizer: PreTrainedTokenizerFast, train_text: str, skill_examples: list[Item],
                  image_lines: list[str] | None = None) -> dict[str, torch.Tensor]:
    """All training streams in one dict (saved with torch.save, shared by every model)."""
    skills, starts, answers = skill_stream(tokenizer, skill_examples)
    streams = {"text": text_stream(tokenizer, train_text), "skills": skills, "skill_starts": starts,
               "skill_answers": answers}
    if image_lines:
        streams["images"], streams["image_starts"] = line_stream(tokenizer, image_lines)
    return streams


def window_index(stream_len: int, starts: torch.Tensor | None, count: int, length: int,
                 generator: torch.Generator) -> torch.Tensor:
    """Stream positions ``[count, length]`` of ``count`` random windows of ``length`` tokens.

    With ``starts``, windows begin at one of those offsets (whole skill examples).
    """
    if stream_len <= length:
        raise ValueError(f"stream of {stream_len} tokens is too short for windows of {length}")
    if starts is None:
        offsets = torch.randint(0, stream_len - length, (count,), generator=generator)
    else:
        valid = starts[starts < stream_len - length]
        offsets = valid[torch.randint(0, valid.numel(), (count,), generator=generator)]
    return offsets.unsqueeze(1) + torch.arange(length).unsqueeze(0)


def sample_windows(stream: torch.Tensor, starts: torch.Tensor | None, count: int, length: int,
                   generator: torch.Generator) -> torch.Tensor:
    """``count`` windows of ``length`` tokens from ``stream`` ([count, length]); see
    :func:`window_index`."""
    return stream[window_index(stream.numel(), starts, count, length, generator)]


def with_bos(windows: torch.Tensor, bos_id: int) -> torch.Tensor:
    """Prepend a BOS column: every sequence the models see starts with BOS (docs/mini.md, Data)."""
    bos = torch.full((windows.shape[0], 1), bos_id, dtype=windows.dtype)
    return torch.cat([bos, windows], dim=1)


def calibration_batch(tokenizer: PreTrainedTokenizerFast, heldout_text: str, n_samples: int,
                      seq_len: int, seed: int, bos_id: int | None | EllipsisType = ...) -> torch.Tensor:
    """``n_samples`` windows of ``seq_len`` tokens of held-out text ([N, seq_len]).

    Windows start with ``bos_id`` (default ``...``: the tokenizer's own BOS); with ``None`` (a
    model without BOS, e.g. Qwen2.5) they are ``seq_len`` text tokens.
    """
    generator = torch.Generator().manual_seed(seed)
    stream = text_stream(tokenizer, heldout_text)
    bos = tokenizer.bos_token_id if bos_id is ... else bos_id
    if bos is None:
        return sample_windows(stream, None, n_samples, seq_len, generator)
    return with_bos(sample_windows(stream, None, n_samples, seq_len - 1, generator), bos)


def released_calibration_batch(tokenizer: PreTrainedTokenizerFast, rows: list[str], n_samples: int,
                                seq_len: int, seed: int) -> torch.Tensor:
    """Calibration windows ``[N, seq_len]`` drawn as the released loader draws them.

    VILA-Lab/Sink-Aware-Pruning ``lib/data.py::get_wikitext2``: every row of the ``text`` field
    (empty ones included) joined with single spaces, tokenised once with the tokenizer's own
    special-token rule (no BOS is added to windows), python's ``random`` seeded with the seed,
    then per sample a start ``i = randint(0, len − seq_len − 1)`` and the window ``[i, i + seq_len)``.
    """
    ids = tokenizer(" ".join(rows), return_tensors="pt").input_ids[0]
    if ids.numel() <= seq_len + 1:
        raise ValueError(f"calibration text of {ids.numel()} tokens is too short for windows of {seq_len}")
    rng = random.Random(seed)  # the same Mersenne Twister stream as random.seed(seed); random.randint
    windows = []
    for _ in range(n_samples):
        i = rng.randint(0, ids.numel() - seq_len - 1)
        windows.append(ids[i:i + seq_len])
    return torch.stack(windows)


def text_rows(text: str) -> list[str]:
    """Lines of a text file with their line ends, the rows of a WikiText-style ``text`` field."""
    return text.splitlines(keepends=True)


def dataset_rows(dataset: str, subset: str | None, split: str) -> list[str]:
    """Every row of the ``text`` field of a Hugging Face dataset split (empty rows included).

    Offline (HF_DATASETS_OFFLINE=1) a dataset missing from the local cache is one clear error.
    """
    from datasets import load_dataset

    try:
        rows = load_dataset(dataset, subset, split=split)
    except Exception as error:  # datasets raises several types for "not available offline"
        raise FileNotFoundError(f"calibration dataset {dataset}/{subset} [{split}] is not available: {error}") from None
    return list(rows["text"])


def dataset_text(dataset: str, subset: str | None, split: str) -> str:
    """Non-empty rows of a dataset split joined by blank lines (paper scale, protocol: corrected)."""
    return "\n\n".join(row for row in dataset_rows(dataset, subset, split) if row.strip())


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """torch.save with contiguous tensors (byte-identical for identical content)."""
    torch.save({k: v.contiguous() for k, v in tensors.items()}, str(path))
