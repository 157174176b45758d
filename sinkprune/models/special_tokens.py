"""Which token starts a sequence: one BOS rule per family, for calibration, sinks and evaluation.

Every stage that puts a BOS token first (calibration windows, sink trajectories, lm-eval
requests) asks :func:`bos_id` of the checkpoint directory, so the three never disagree. Where
each family's BOS comes from in the real checkpoints:

- ``llada`` (GSAI-ML/LLaDA-8B-Base, LLaDA-1.5, Gen-Verse/MMaDA-8B-Base): ``bos_token_id`` of
  ``generation_config.json`` (126080, ``<|startoftext|>``); LLaDA's ``config.json`` has none.
  When ``generation_config.json`` is absent or has no ``bos_token_id`` (a re-upload, or a
  checkpoint saved without it), the rule falls back to ``config.json`` and then to the
  tokenizer's ``bos_token`` (LLaDA-1.5 and MMaDA ship LLaDA's tokenizer, whose ``bos_token`` is
  ``<|startoftext|>``): a user expects the checkpoint to run with the BOS its own files name,
  and the source used is returned so logs can say which file it came from. Only when none of
  the three names a BOS is it an error, naming the three files.
- ``dream`` (Dream-org/Dream-v0-Base-7B): ``bos_token_id`` of ``config.json`` (151643,
  ``<|endoftext|>``), which Dream's own model code reads. Its tokenizer names a different
  ``bos_token`` (``<|beginoftext|>``) that Dream's base-model inputs do not start with.
- ``llama`` (meta-llama/Llama-3.1-8B): ``bos_token_id`` of ``config.json`` (128000), the
  token Llama's tokenizer prepends.
- ``qwen2`` (Qwen/Qwen2.5-7B, the AR reference): none when the checkpoint's
  ``tokenizer_config.json`` sets ``bos_token: null``, as Qwen2.5's does (its ``config.json``
  ``bos_token_id`` 151643 is ``<|endoftext|>``, which Qwen never prepends); otherwise
  ``config.json``. Sequences of a model without BOS start with their first text token.

A directory without ``config.json`` is a bare tokenizer (the mini zoo's shared one): its own
``bos_token`` is the BOS, as every mini model's ``config.json`` records the same id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG = "config.json"
GENERATION_CONFIG = "generation_config.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"


@dataclass(frozen=True)
class Bos:
    """The BOS token id of a checkpoint (None: sequences start without one) and where it was read."""

    id: int | None
    source: str  # e.g. "generation_config.json bos_token_id"

    def describe(self) -> str:
        """One line for logs: ``BOS 126080 (generation_config.json bos_token_id)``."""
        return f"BOS {self.id} ({self.source})" if self.id is not None else f"no BOS ({self.source})"


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _first(value: Any) -> int | None:
    if isinstance(value, list):
        return int(value[0]) if value else None
    return None if value is None else int(value)


def _token_content(value: Any) -> str | None:
    """A special token as tokenizer files write it: a string or an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def tokenizer_bos_token(directory: Path) -> tuple[str | None, bool]:
    """``(bos_token, declared)`` from tokenizer_config.json, else special_tokens_map.json.

    ``declared`` is False when neither file has a ``bos_token`` key; ``(None, True)`` means the
    tokenizer says explicitly that it has no BOS (Qwen2.5's ``"bos_token": null``).
    """
    for name in (TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP):
        data = _json(directory / name)
        if data is not None and "bos_token" in data:
            return _token_content(data["bos_token"]), True
    return None, False


def _from_config(directory: Path, name: str) -> Bos | None:
    data = _json(directory / name)
    value = _first(data.get("bos_token_id")) if data else None
    return Bos(value, f"{name} bos_token_id") if value is not None else None


def _from_tokenizer(directory: Path, tokenizer: Any | None) -> Bos | None:
    if tokenizer is not None:
        if tokenizer.bos_token_id is not None:
            return Bos(int(tokenizer.bos_token_id), f"tokenizer bos_token {tokenizer.bos_token!r}")
        return None
    token, _ = tokenizer_bos_token(directory)
    if token is None:
        return None
    from sinkprune.data.tokenizer import load_tokenizer

    loaded = load_tokenizer(directory)
    bos = loaded.convert_tokens_to_ids(token)
    return Bos(int(bos), f"tokenizer bos_token {token!r}") if bos is not None else None


def bos_id(directory: str | Path, family: str | None = None, tokenizer: Any | None = None) -> Bos:
    """The BOS of the checkpoint (or bare tokenizer) in ``directory`` under its family's rule.

    ``family`` defaults to the one config.json names; ``tokenizer`` (optional, already loaded)
    spares reloading it when the rule falls back to the tokenizer. Raises ValueError naming
    the files searched when a family that needs a BOS has none.
    """
    directory = Path(directory)
    config = _json(directory / CONFIG)
    if config is None:
        found = _from_tokenizer(directory, tokenizer)
        if found is None:
            raise ValueError(f"{directory}: no {CONFIG} and the tokenizer has no bos_token")
        return found
    if family is None:
        from sinkprune.models.families import detect_family

        family = detect_family(config, where=str(directory)).name
    if family == "llada":
        found = (_from_config(directory, GENERATION_CONFIG) or _from_config(directory, CONFIG)
                 or _from_tokenizer(directory, tokenizer))
        if found is None:
            raise ValueError(f"{directory}: no BOS for a llada-family checkpoint: {GENERATION_CONFIG} has no "
                             f"bos_token_id (LLaDA's is 126080), nor has {CONFIG}, nor does the tokenizer "
                             f"({TOKENIZER_CONFIG} / {SPECIAL_TOKENS_MAP}) name a bos_token")
        return found
    if family == "qwen2":
        token, declared = tokenizer_bos_token(directory)
        if declared and token is None:
            return Bos(None, f"{TOKENIZER_CONFIG} bos_token null")
    found = _from_config(directory, CONFIG)
    if found is None:
        raise ValueError(f"{directory}: {CONFIG} has no bos_token_id, which the {family} family reads its BOS from")
    return found
