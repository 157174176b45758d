"""The evaluate CLI end to end on a tiny model: stable, byte-identical JSON; overrides applied."""

import json

import pytest
import yaml

from tests.test_evaluate_tasks import _config, save_tiny_llada


def test_cli_output_is_stable_and_complete(tmp_path):
    from sinkprune.evaluate.__main__ import main

    save_tiny_llada(tmp_path / "m", max_seq_len=128)
    tasks = ["mini_winogrande", "mini_gsm8k", "mini_hellaswag"]
    config = _config(tasks)
    config["eval"] |= {"limit": 3, "num_fewshot": {"mini_winogrande": 2}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    main(["build-tasks", "--config", str(tmp_path / "c.yaml"),
          "--out-dir", str(tmp_path / "tasks")])
    common = ["--tasks-dir", str(tmp_path / "tasks"), "--config", str(tmp_path / "c.yaml")]
    main(["--model", str(tmp_path / "m"), "--out", str(tmp_path / "o0.json")] + common)
    # Two models in one process: each result equals a run on its own.
    main(["--model", str(tmp_path / "m"), "--out", str(tmp_path / "o1.json"),
          "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o2.json")] + common)
    outs = [(tmp_path / f"o{i}.json").read_bytes() for i in range(3)]
    assert outs[0] == outs[1] == outs[2], "reruns must be byte-identical"
    result = json.loads(outs[0])
    assert set(result["results"]) == set(tasks)
    assert result["n-shot"] == {"mini_winogrande": 2, "mini_gsm8k": 5, "mini_hellaswag": 0}
    assert result["chance"] == {"mini_winogrande": 0.5, "mini_gsm8k": 0.0, "mini_hellaswag": 0.25}
    assert result["n-samples"]["mini_gsm8k"]["effective"] == 3
    assert "acc_stderr,none" in result["results"]["mini_hellaswag"]
    assert "exact_match,first-number" in result["results"]["mini_gsm8k"]
    text = outs[0].decode()
    assert str(tmp_path) not in text, "no absolute paths in the stable output"
    assert "date" not in result and "total_evaluation_time_seconds" not in result


def test_cli_released_protocol_cfg_and_perplexity(tmp_path):
    """Protocol, per-task cfg and mc_num reach the record; the perplexity command writes its JSON."""
    from sinkprune.data.skills import training_lines
    from sinkprune.evaluate.__main__ import main

    tok = save_tiny_llada(tmp_path / "m", max_seq_len=64)
    tasks = ["mini_piqa", "mini_mmlu"]
    config = _config(tasks)
    config["protocol"] = "released"
    config["eval"] |= {"limit": 3, "mc_num": 4, "batch_size": 2, "cfg": {"mini_piqa": 0.5},
                       "task_mc_num": {"mini_mmlu": 1}, "num_fewshot": {"mini_mmlu": 0},
                       "perplexity": {"rows": 30, "max_length": 48, "chunk": 16, "stride": 16, "mc_num": 2}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    main(["build-tasks", "--config", str(tmp_path / "c.yaml"), "--out-dir", str(tmp_path / "tasks")])
    main(["--model", str(tmp_path / "m"), "--out", str(tmp_path / "o.json"), "--tasks-dir", str(tmp_path / "tasks"),
          "--config", str(tmp_path / "c.yaml")])
    result = json.loads((tmp_path / "o.json").read_text())
    assert result["model"]["protocol"] == "released" and result["eval_settings"]["protocol"] == "released"
    assert result["model"]["task_cfg"] == {"mini_piqa": 0.5} and result["model"]["task_mc_num"] == {"mini_mmlu": 1}
    assert {"acc,none", "acc_norm,none"} <= set(result["results"]["mini_piqa"])
    text = tmp_path / "heldout.txt"
    text.write_text("\n".join(training_lines(60, 1)))
    main(["perplexity", "--config", str(tmp_path / "c.yaml"), "--model", str(tmp_path / "m"),
          "--out", str(tmp_path / "p.json"), "--text", str(text)])
    ppl = json.loads((tmp_path / "p.json").read_text())
    assert ppl["formula"] == "llada" and ppl["protocol"] == "released" and ppl["windows"] > 0
    assert 1 < ppl["perplexity"] < 10 * len(tok), "an untrained model is near uniform, not beyond"
    # The evaluation job's form: perplexity after lm-eval in the same process, the same bytes.
    main(["--model", str(tmp_path / "m"), "--out", str(tmp_path / "o2.json"), "--tasks-dir", str(tmp_path / "tasks"),
          "--config", str(tmp_path / "c.yaml"), "--perplexity", str(tmp_path / "p2.json"), "--text", str(text)])
    assert (tmp_path / "p2.json").read_bytes() == (tmp_path / "p.json").read_bytes()
    assert (tmp_path / "o2.json").read_bytes() == (tmp_path / "o.json").read_bytes()
    config["eval"]["cfg"] = {"mini_arc_challenge": 0.5}  # not evaluated: named in the error
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    import pytest

    with pytest.raises(SystemExit, match="eval.cfg names task"):
        main(["--model", str(tmp_path / "m"), "--out", str(tmp_path / "o.json"), "--tasks-dir",
              str(tmp_path / "tasks"), "--config", str(tmp_path / "c.yaml")])


def test_perplexity_loads_the_model_on_the_configs_device_and_dtype(monkeypatch):
    """Paper scale: perplexity reads an 8B model in the config's dtype on its device, as the
    evaluation does (a float32 CPU load would not fit)."""
    import torch

    import sinkprune.models
    from sinkprune.evaluate.__main__ import _write_perplexity

    seen = {}

    class Loaded(Exception):
        pass

    def fake_load(path, device=None, dtype=None):
        seen.update(path=path, device=device, dtype=dtype)
        raise Loaded

    monkeypatch.setattr(sinkprune.models, "load_model", fake_load)
    config = {"seed": 0, "device": "cpu", "dtype": "bfloat16"}
    with pytest.raises(Loaded):
        _write_perplexity("some/model", (None, "", "x"), config, "unused.json")
    assert seen["dtype"] == torch.bfloat16 and str(seen["device"]) == "cpu"
