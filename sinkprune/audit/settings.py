"""The ``audit:`` section of a config, read once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuditSettings:
    """The ``audit:`` section of a config."""

    tolerance: float = 1.0  # percentage points
    model_map: dict[str, str] = field(default_factory=dict)
    task_map: dict[str, str] = field(default_factory=dict)
    scale: str = "unknown"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AuditSettings":
        section = config.get("audit") or {}
        return cls(
            tolerance=float(section.get("tolerance", cls.tolerance)),
            model_map=dict(section.get("model_map") or {}),
            task_map=dict(section.get("task_map") or {}),
            scale=str(config.get("scale", "unknown")),
        )
