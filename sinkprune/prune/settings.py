"""Pruning settings built once from the validated config (passed down, never read globally)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sinkprune.sinks.settings import SinkSettings

PROTOCOLS = ("released", "corrected")

# Sequences per forward pass in the statistics and layer-sequential passes. Fixed (not config):
# results are byte-identical only at a fixed batch size, and every statistic is defined per
# sequence so the choice does not change the mathematics.
BATCH_SIZE = 8


@dataclass(frozen=True)
class PruneSettings:
    """Everything the prune stage reads from config: protocol, threads, sink settings, SparseGPT knobs.

    ``protocol`` (top-level config key): ``released`` reproduces VILA-Lab/Sink-Aware-Pruning's
    counting, thresholds, N:M handling and noise stream; ``corrected`` is the suite's own
    (docs/deviations.md lists each difference).
    """

    protocol: str = "corrected"
    threads: int = 1
    sinks: SinkSettings = field(default_factory=SinkSettings)
    percdamp: float = 0.01
    blocksize: int = 128

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"config key 'protocol' must be one of {PROTOCOLS}, got {self.protocol!r}")

    @property
    def released(self) -> bool:
        """True under ``protocol: released``."""
        return self.protocol == "released"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PruneSettings":
        """Build from a config dict (already schema-validated); absent keys take docs/method.md defaults."""
        prune = config.get("prune", {}) or {}
        return cls(
            protocol=str(config.get("protocol", "corrected")),
            threads=int(config.get("threads", 1)),
            sinks=SinkSettings.from_config(config),
            percdamp=float(prune.get("percdamp", 0.01)),
            blocksize=int(prune.get("blocksize", 128)),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PruneSettings":
        """Read a config YAML file."""
        return cls.from_config(yaml.safe_load(Path(path).read_text()) or {})

    @property
    def seed(self) -> int:
        """The top-level config ``seed`` (held by the sink settings, whose noise draws it seeds)."""
        return self.sinks.seed

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for reports; of the sink settings only those that change the scores."""
        return {"seed": self.seed, "protocol": self.protocol, "threads": self.threads,
                "sinks": self.sinks.score_dict(), "percdamp": self.percdamp, "blocksize": self.blocksize}
