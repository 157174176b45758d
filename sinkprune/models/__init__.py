"""Model families loaded from their real on-disk Hugging Face format (no trust_remote_code).

Public API: ``load_model``, ``save_model``, ``build_model``, ``SinkModel``, ``generate``,
``transfer_weights``. Families and what differs between them: ``docs/families.md``.
Imports are lazy so that ``sinkprune.models.noising`` stays importable without transformers.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_model": "sinkprune.models.checkpoint",
    "save_model": "sinkprune.models.checkpoint",
    "build_model": "sinkprune.models.checkpoint",
    "transfer_weights": "sinkprune.models.checkpoint",
    "SinkModel": "sinkprune.models.sink_model",
    "generate": "sinkprune.models.sampling",
    "FAMILIES": "sinkprune.models.families",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sinkprune.models' has no attribute {name!r}")
