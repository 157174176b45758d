"""Analysis settings built once from the validated config and passed down (never read globally)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AnalysisSettings:
    """``seed`` and ``sinks.*`` keys the sink analysis reads (defaults: docs/method.md, released code).

    ``top_k``: positions counted by the top-k mass share; ``analysis_seq_len``: optional cap on
    the sequence length analysed (paper scale: a 4096-token Dream window × 28 layers × 28 heads
    would make one trajectory file gigabytes); ``prompt_len`` / ``gen_length`` / ``gen_steps`` /
    ``block_length``: the generation trajectory (config ``sinks.generate.*``);
    ``untrained_seeds``: initialisations per architecture the claim's untrained gap averages over.
    """

    seed: int = 0
    rule: str = "soft"
    alpha: float = 5.0
    k: float = 2.0
    hard_eps: float = 0.0
    diffusion_steps: int = 50
    sample_every: int = 5
    mask_eps: float = 1e-3
    strong_head_ratio: float = 5.0
    bootstrap: int = 1000
    analysis_samples: int = 16
    top_k: int = 4
    analysis_seq_len: int | None = None
    prompt_len: int = 16
    gen_length: int = 64
    gen_steps: int = 32
    block_length: int = 32
    untrained_seeds: int = 1

    def __post_init__(self) -> None:
        if self.rule not in ("soft", "hard"):
            raise ValueError(f"sinks.rule must be 'soft' or 'hard', got {self.rule!r}")
        if self.untrained_seeds < 1:
            raise ValueError(f"sinks.untrained_seeds must be >= 1, got {self.untrained_seeds}")
        if self.top_k < 1:
            raise ValueError(f"sinks.top_k must be >= 1, got {self.top_k}")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AnalysisSettings":
        """Build from a (schema-validated) config dict; absent keys keep the defaults above."""
        sinks = dict(config.get("sinks", {}) or {})
        gen = dict(sinks.pop("generate", {}) or {})
        fields = cls.__dataclass_fields__
        values: dict[str, Any] = {k: v for k, v in sinks.items() if k in fields}
        renamed = {"prompt_len": "prompt_len", "gen_length": "gen_length", "steps": "gen_steps",
                   "block_length": "block_length"}
        values.update({renamed[k]: v for k, v in gen.items() if k in renamed})
        return cls(seed=int(config.get("seed", 0)), **values)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (recorded in every trajectory file's metadata)."""
        return asdict(self)
