"""Token streams for training and the calibration batch.

Training draws windows from two pretokenized streams: natural text (any offset) and synthetic
skill lines (windows start at a line start so examples are whole). The skill stream carries a
parallel flag per token marking each example's answer, for SFT-style rows
(sinkprune.models.train). Calibration windows come from the held-out text, BOS first, as the
released code draws random WikiText-2 windows.
"""

from __future__ import annotations

from pathlib import Path

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
                      seq_len: int, seed: int) -> torch.Tensor:
    """``n_samples`` BOS-first windows of ``seq_len`` tokens of held-out text ([N, seq_len])."""
    generator = torch.Generator().manual_seed(seed)
    stream = text_stream(tokenizer, heldout_text)
    return with_bos(sample_windows(stream, None, n_samples, seq_len - 1, generator), tokenizer.bos_token_id)


def dataset_text(dataset: str, subset: str | None, split: str) -> str:
    """Text of a Hugging Face dataset split joined by blank lines (paper scale: WikiText-2 train).

    Offline (HF_DATASETS_OFFLINE=1) a dataset missing from the local cache is one clear error.
    """
    from datasets import load_dataset

    try:
        rows = load_dataset(dataset, subset, split=split)
    except Exception as error:  # datasets raises several types for "not available offline"
        raise FileNotFoundError(f"calibration dataset {dataset}/{subset} [{split}] is not available: {error}") from None
    return "\n\n".join(row["text"] for row in rows if row["text"].strip())


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """torch.save with contiguous tensors (byte-identical for identical content)."""
    torch.save({k: v.contiguous() for k, v in tensors.items()}, str(path))
