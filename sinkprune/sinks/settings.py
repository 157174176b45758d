"""Sink settings (config section ``sinks.*``) built once from the validated config and passed down."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Keys that change the sink scores s_t (docs/method.md §1–2, §4): shared.pt records these, is
# compatible with any config that agrees on them, and prune reports list them.
SCORE_KEYS = ("rule", "alpha", "k", "hard_eps", "gate", "tau", "diffusion_steps", "sample_every", "mask_eps")
# Keys only pruning reads (the stable-sink gate); trajectory files record every other field.
PRUNE_ONLY_KEYS = ("gate", "tau")


@dataclass(frozen=True)
class SinkSettings:
    """``sinks.*`` keys and the top-level ``seed`` (defaults: docs/method.md, released code).

    Read by the prune, sinks and controls stages. ``seed`` seeds the noise draws and the
    bootstrap; ``gate`` / ``tau``: the stable-sink gate of pruning; ``top_k``: positions
    counted by the top-k mass share; ``analysis_seq_len``: optional cap on the sequence length
    analysed (paper scale: a 4096-token Dream window × 28 layers × 28 heads would make one
    trajectory file gigabytes); ``prompt_len`` / ``gen_length`` / ``gen_steps`` /
    ``block_length``: the generation trajectory (config ``sinks.generate.*``);
    ``untrained_seeds``: initialisations per architecture the claim's untrained gap averages over.
    """

    seed: int = 0
    rule: str = "soft"
    alpha: float = 5.0
    k: float = 2.0
    hard_eps: float = 0.0
    gate: str = "none"
    tau: float = 0.9
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
        if self.gate not in ("none", "unstable"):
            raise ValueError(f"sinks.gate must be 'none' or 'unstable', got {self.gate!r}")
        if self.untrained_seeds < 1:
            raise ValueError(f"sinks.untrained_seeds must be >= 1, got {self.untrained_seeds}")
        if self.top_k < 1:
            raise ValueError(f"sinks.top_k must be >= 1, got {self.top_k}")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SinkSettings":
        """Build from a (schema-validated) config dict; absent keys keep the defaults above."""
        sinks = dict(config.get("sinks", {}) or {})
        gen = dict(sinks.pop("generate", {}) or {})
        fields = cls.__dataclass_fields__
        values: dict[str, Any] = {k: v for k, v in sinks.items() if k in fields}
        renamed = {"prompt_len": "prompt_len", "gen_length": "gen_length", "steps": "gen_steps",
                   "block_length": "block_length"}
        values.update({renamed[k]: v for k, v in gen.items() if k in renamed})
        return cls(seed=int(config.get("seed", 0)), **values)

    def score_dict(self) -> dict[str, Any]:
        """The keys that change the sink scores (:data:`SCORE_KEYS`), as shared.pt and prune reports record them."""
        return {key: getattr(self, key) for key in SCORE_KEYS}

    def analysis_dict(self) -> dict[str, Any]:
        """Every field but the prune-only gate (recorded in every trajectory file's metadata)."""
        return {key: value for key, value in asdict(self).items() if key not in PRUNE_ONLY_KEYS}
