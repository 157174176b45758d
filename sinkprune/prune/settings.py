"""Pruning settings built once from the validated config (passed down, never read globally)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROTOCOLS = ("released", "corrected")

# Sequences per forward pass in the statistics and layer-sequential passes. Fixed (not config):
# results are byte-identical only at a fixed batch size, and every statistic is defined per
# sequence so the choice does not change the mathematics.
BATCH_SIZE = 8


@dataclass(frozen=True)
class SinkSettings:
    """``sinks.*`` keys used by pruning (docs/method.md §1–2, §4)."""

    rule: str = "soft"
    alpha: float = 5.0
    k: float = 2.0
    hard_eps: float = 0.0
    gate: str = "none"
    tau: float = 0.9
    diffusion_steps: int = 50
    sample_every: int = 5
    mask_eps: float = 1e-3

    def __post_init__(self) -> None:
        if self.rule not in ("soft", "hard"):
            raise ValueError(f"sinks.rule must be 'soft' or 'hard', got {self.rule!r}")
        if self.gate not in ("none", "unstable"):
            raise ValueError(f"sinks.gate must be 'none' or 'unstable', got {self.gate!r}")


@dataclass(frozen=True)
class PruneSettings:
    """Everything the prune stage reads from config: seed, protocol, threads, sink and SparseGPT knobs.

    ``protocol`` (top-level config key): ``released`` reproduces VILA-Lab/Sink-Aware-Pruning's
    counting, thresholds, N:M handling and noise stream; ``corrected`` is the suite's own
    (docs/deviations.md lists each difference).
    """

    seed: int = 0
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
        sinks = config.get("sinks", {}) or {}
        prune = config.get("prune", {}) or {}
        sink_fields = SinkSettings.__dataclass_fields__
        return cls(
            seed=int(config.get("seed", 0)),
            protocol=str(config.get("protocol", "corrected")),
            threads=int(config.get("threads", 1)),
            sinks=SinkSettings(**{k: v for k, v in sinks.items() if k in sink_fields}),
            percdamp=float(prune.get("percdamp", 0.01)),
            blocksize=int(prune.get("blocksize", 128)),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PruneSettings":
        """Read a config YAML file."""
        return cls.from_config(yaml.safe_load(Path(path).read_text()) or {})

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for reports."""
        return asdict(self)
