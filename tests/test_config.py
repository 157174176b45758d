"""Config loading and schema validation: bad input names the key."""

from pathlib import Path

import pytest
import yaml

from sinkprune.config import ConfigError, config_digest, load_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [ROOT / "config" / "mini.yaml", ROOT / "config" / "paper.yaml", ROOT / "tests" / "config" / "smoke.yaml"]


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.exists()], ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    config = load_config(path)
    assert config["models"], "a config must name at least one model"
    for model in config["prune"]["models"]:
        assert model in config["models"], f"prune.models names unknown model {model}"


def _mini():
    return yaml.safe_load((ROOT / "config" / "mini.yaml").read_text())


def test_unknown_key_is_named():
    config = _mini()
    config["eval"]["mc_nmu"] = 4
    with pytest.raises(ConfigError, match=r"eval\.mc_nmu"):
        validate_config(config)


def test_wrong_type_is_named():
    config = _mini()
    config["sinks"]["alpha"] = "five"
    with pytest.raises(ConfigError, match=r"sinks\.alpha"):
        validate_config(config)


def test_bad_sparsity_string_is_named():
    config = _mini()
    config["prune"]["sparsities"] = ["50%"]
    with pytest.raises(ConfigError, match=r"prune\.sparsities\.0"):
        validate_config(config)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_digest_ignores_key_order():
    assert config_digest({"a": 1, "b": 2}) == config_digest({"b": 2, "a": 1})
    assert config_digest({"a": 1}) != config_digest({"a": 2})
