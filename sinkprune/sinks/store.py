"""Trajectory files ``results/sinks/{model}/{state}/{kind}.npz``: received mass per timestep.

Arrays (T timesteps, N sequences, L layers, H heads, S = longest sequence of the trajectory):
- ``mass`` float32 ``[T, N, L, H, S]``: Σ over queries of the softmax attention, per layer and
  head (docs/method.md §1); positions ``i >= lengths[t]`` (AR prefixes shorter than S) hold 0.
- ``ids`` int32 ``[T, N, S]``: the tokens the model saw at that timestep (noised / partly
  generated / prefix), −1 beyond ``lengths[t]``.
- ``kinds`` int8 ``[T, N, S]``: token kind per position (``kinds.KIND_NAMES``), −1 beyond.
- ``lengths`` int32 ``[T]``: valid positions at each timestep (same for every sequence).
- ``times`` float32 ``[T]``: noise level t (noised), step / steps (generate), ℓ_t / S (ar_prefix).
- ``meta``: JSON string (kind, family, is_causal, mask_id, bos_id, model, settings, …).
np.savez_compressed writes fixed zip timestamps, so the same arrays give byte-identical files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("noised", "generate", "ar_prefix")


@dataclass
class Trajectory:
    """One model's received mass along one trajectory; see the module docstring for shapes."""

    mass: np.ndarray
    ids: np.ndarray
    kinds: np.ndarray
    lengths: np.ndarray
    times: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t, n, _, _, s = self.mass.shape
        for name, arr, shape in (("ids", self.ids, (t, n, s)), ("kinds", self.kinds, (t, n, s)),
                                 ("lengths", self.lengths, (t,)), ("times", self.times, (t,))):
            if tuple(arr.shape) != shape:
                raise ValueError(f"trajectory {name} has shape {tuple(arr.shape)}, expected {shape}")
        if (self.lengths < 1).any() or (self.lengths > s).any():
            raise ValueError(f"trajectory lengths must lie in [1, {s}], got {self.lengths.tolist()}")

    @property
    def num_timesteps(self) -> int:
        return int(self.mass.shape[0])

    @property
    def seq_len(self) -> int:
        """S: the longest sequence of the trajectory (the normaliser of positional variances)."""
        return int(self.mass.shape[-1])


def save_trajectory(traj: Trajectory, path: str | Path) -> Path:
    """Write ``traj`` as a compressed .npz (float32 mass, int32 ids, int8 kinds)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(handle, mass=traj.mass.astype(np.float32), ids=traj.ids.astype(np.int32),
                            kinds=traj.kinds.astype(np.int8), lengths=traj.lengths.astype(np.int32),
                            times=traj.times.astype(np.float32),
                            meta=np.array(json.dumps(traj.meta, sort_keys=True)))
    return path


def load_trajectory(path: str | Path) -> Trajectory:
    """Read a file written by :func:`save_trajectory`."""
    with np.load(Path(path), allow_pickle=False) as data:
        return Trajectory(mass=data["mass"], ids=data["ids"], kinds=data["kinds"],
                          lengths=data["lengths"], times=data["times"], meta=json.loads(str(data["meta"])))


# Untrained controls: ``untrained`` (the initialisation the trained model started from) and
# ``untrained-s1`` … ``untrained-s{K-1}``, further seeds of the same architecture (sinks.untrained_seeds).
UNTRAINED_STATE = re.compile(r"untrained(-s[1-9][0-9]*)?")


def untrained_state(index: int) -> str:
    """State name of the ``index``-th untrained seed (0: ``untrained``)."""
    return "untrained" if index == 0 else f"untrained-s{index}"


def untrained_index(state: str) -> int | None:
    """Seed index of an untrained state name, None for any other state."""
    if not UNTRAINED_STATE.fullmatch(state):
        return None
    return 0 if state == "untrained" else int(state.removeprefix("untrained-s"))


def control_group(index: int) -> str:
    """Directory name of the ``index``-th untrained control of the control pairs."""
    return "control" if index == 0 else f"control-s{index}"


def control_index(group: str) -> int | None:
    """Seed index of a control group name (``control``, ``control-sN``), None for a tested pair."""
    if group == "control":
        return 0
    if group.startswith("control-s") and group.removeprefix("control-s").isdigit():
        return int(group.removeprefix("control-s"))
    return None


def parse_trajectory_path(path: str | Path) -> tuple[str, str, str]:
    """(model, state, kind) of ``.../{model}/{state}/{kind}.npz``; errors name the bad part."""
    path = Path(path)
    model, state, kind = path.parent.parent.name, path.parent.name, path.stem
    if state != "trained" and untrained_index(state) is None:
        raise ValueError(f"{path}: expected results/sinks/{{model}}/{{trained|untrained|untrained-sN}}/{{kind}}.npz")
    if kind not in KINDS:
        raise ValueError(f"{path}: trajectory kind {kind!r} is not one of {', '.join(KINDS)}")
    return model, state, kind
