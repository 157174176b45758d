"""Settings of the controls stage, built once from the validated ``controls:`` config section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sinkprune.controls.planted import Arch

# Seeds of further untrained controls: ``control + stride × index``, beyond any repetition's seeds.
CONTROL_SEED_STRIDE = 100_000


@dataclass(frozen=True)
class ControlSettings:
    """``controls.*`` keys (workflow/schemas/config.schema.yaml documents each one)."""

    seed: int
    arch: dict
    vocab_size: int
    seq_len: int
    dlm_family: str = "dream"
    ar_family: str = "qwen2"
    strength: float = 0.3
    power_strengths: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.05)
    power_reps: int = 6
    channels: int = 16
    gain: float = 64.0
    prune_init_std: float = 0.02
    prune_sparsities: tuple[str, ...] = ("0.50", "0.75")
    prune_reps: int = 8
    prune_samples: int = 16

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ControlSettings:
        """Build from a config with a ``controls:`` section; KeyError names a missing section."""
        if "controls" not in config:
            raise KeyError("config has no 'controls' section: the planted controls are not configured")
        c = config["controls"]
        sinks, prune = c.get("sinks", {}), c.get("pruning", {})
        return cls(seed=int(c["seed"]), arch=dict(c["arch"]), vocab_size=int(c["vocab_size"]),
                   seq_len=int(c["seq_len"]), dlm_family=c.get("dlm_family", "dream"),
                   ar_family=c.get("ar_family", "qwen2"), strength=float(sinks.get("strength", 0.3)),
                   power_strengths=tuple(float(s) for s in sinks.get("power_strengths", cls.power_strengths)),
                   power_reps=int(sinks.get("power_reps", 6)), channels=int(prune.get("channels", 16)),
                   gain=float(prune.get("gain", 64.0)), prune_init_std=float(prune.get("init_std", 0.02)),
                   prune_sparsities=tuple(prune.get("sparsities", ("0.50", "0.75"))),
                   prune_reps=int(prune.get("reps", 8)), prune_samples=int(prune.get("n_samples", 16)))

    def dlm(self) -> Arch:
        """Architecture of the planted DLM (and of its untrained control)."""
        return Arch(self.dlm_family, self.arch, self.vocab_size, self.seq_len)

    def ar(self) -> Arch:
        """Architecture of the planted AR model (and of its untrained control)."""
        return Arch(self.ar_family, self.arch, self.vocab_size, self.seq_len)

    def prune_arch(self) -> Arch:
        """The pruning control's DLM: the same architecture at the pruning init scale."""
        return Arch(self.dlm_family, dict(self.arch, init_std=self.prune_init_std), self.vocab_size, self.seq_len)

    def control_seed(self, rep: int, index: int) -> int:
        """Seed of repetition ``rep``'s ``index``-th untrained control (index 0: ``rep_seeds``'s
        ``control``; further ones far from every repetition's planted seed)."""
        return self.rep_seeds(rep)["control"] + CONTROL_SEED_STRIDE * index

    def rep_seeds(self, rep: int) -> dict[str, int]:
        """Seeds of repetition ``rep``: data rows, the untrained control, the planted background."""
        return {"data": self.seed + rep, "control": self.seed + 2 * rep, "planted": self.seed + 2 * rep + 1}
