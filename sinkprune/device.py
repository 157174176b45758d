"""Where models run and in which precision: the config keys ``device`` and ``dtype``.

``device: auto | cpu | cuda`` (auto: cuda when torch sees a GPU, else cpu) and
``dtype: float32 | bfloat16 | float16`` are the weights' device and dtype in every stage that
loads a model (prune, sinks, evaluation, untrained controls). Statistics (attention mass, sink
scores, activation norms, Hessians) are accumulated in float32 whatever ``dtype`` is, as the
released code does. Absent keys mean cpu and float32.
"""

from __future__ import annotations

from typing import Any

import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEFAULT_DEVICE = "cpu"
DEFAULT_DTYPE = "float32"


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``auto`` / ``cpu`` / ``cuda`` (or ``cuda:N``) → ``torch.device``.

    Raises ValueError naming the config key ``device`` for an unknown name, and RuntimeError
    when cuda is asked for and torch sees no GPU.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = DEFAULT_DEVICE if name is None else str(name).strip()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind = name.split(":", 1)[0]
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"config key 'device' must be one of {', '.join(DEVICES)}, got {name!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"config key 'device' is {name!r} but torch sees no CUDA device "
                           f"(torch {torch.__version__}, CUDA_VISIBLE_DEVICES unset or empty?); "
                           "use 'device: auto' or 'device: cpu' to run without a GPU")
    return torch.device(name)


def resolve_dtype(name: str | torch.dtype | None = None) -> torch.dtype:
    """``float32`` / ``bfloat16`` / ``float16`` → ``torch.dtype``; ValueError naming config key ``dtype``."""
    if isinstance(name, torch.dtype):
        if name not in DTYPES.values():
            raise ValueError(f"config key 'dtype' must be one of {', '.join(DTYPES)}, got {name}")
        return name
    name = DEFAULT_DTYPE if name is None else str(name).strip().removeprefix("torch.")
    if name not in DTYPES:
        raise ValueError(f"config key 'dtype' must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def placement(config: dict[str, Any]) -> tuple[torch.device, torch.dtype]:
    """Device and dtype of a (validated) config dict; absent keys: cpu, float32."""
    return resolve_device(config.get("device")), resolve_dtype(config.get("dtype"))
