"""Load and validate a sinkprune config (config/mini.yaml, config/paper.yaml).

Validation uses the JSON schema in workflow/schemas/config.schema.yaml, which forbids unknown
keys; errors name the offending key as a dotted path (``eval.mc_num``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type; the message names the key."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def config_schema(schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """The JSON schema of a config (workflow/schemas/config.schema.yaml) as a dict."""
    return yaml.safe_load(Path(schema_path).read_text())


def validate_config(config: dict[str, Any], schema_path: Path = SCHEMA_PATH, source: str = "config") -> None:
    """Raise :class:`ConfigError` naming every invalid key of ``config``."""
    schema = config_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for err in errors:
            if err.validator == "additionalProperties":
                extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
                prefix = _key_path(err)
                keys = [f"{prefix}.{k}" if prefix != "<top level>" else k for k in extra]
                lines.append(f"unknown config key(s) {', '.join(keys)}")
            else:
                lines.append(f"config key '{_key_path(err)}': {err.message}")
        raise ConfigError(f"invalid {source}:\n  " + "\n  ".join(lines))


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it; the error names the file and the key."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file not found: {path}")
    config = yaml.safe_load(path.read_text()) or {}
    validate_config(config, source=str(path))
    return config


def config_digest(config: dict[str, Any]) -> str:
    """sha256 of the canonical JSON form of a config (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def set_threads(config: dict[str, Any]) -> None:
    """Fix torch's thread count from config: results are only byte-identical at a fixed count."""
    import torch

    torch.set_num_threads(int(config.get("threads", 1)))
