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
    # Two different models in one process: the second's result equals a run on its own.
    save_tiny_llada(tmp_path / "m1", max_seq_len=128, seed=1)
    main(["--model", str(tmp_path / "m1"), "--out", str(tmp_path / "o1.json"),
          "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o2.json")] + common)
    outs = [(tmp_path / f"o{i}.json").read_bytes() for i in range(3)]
    assert outs[0] == outs[2], "reruns must be byte-identical"
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


def test_cli_scores_checkpoints_with_equal_files_once(tmp_path, capsys):
    """A model whose files equal an earlier one's in the job gets a copy of its results, which
    equals what scoring it on its own writes; a model with other weights is scored."""
    import shutil

    from sinkprune.evaluate.__main__ import main
    from sinkprune.evaluate.same_weights import first_equal

    save_tiny_llada(tmp_path / "m", max_seq_len=64)
    save_tiny_llada(tmp_path / "other", max_seq_len=64, seed=1)
    shutil.copytree(tmp_path / "m", tmp_path / "copy")
    assert first_equal([str(tmp_path / d) for d in ("m", "other", "copy")] + ["GSAI-ML/LLaDA-8B-Base"]) == [0, 1, 0, 3]
    text = tmp_path / "heldout.txt"
    from sinkprune.data.skills import training_lines

    text.write_text("\n".join(training_lines(40, 1)))
    config = _config(["mini_piqa"])
    config["eval"] |= {"limit": 3, "perplexity": {"rows": 20, "max_length": 48, "chunk": 16, "stride": 16, "mc_num": 2}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    main(["build-tasks", "--config", str(tmp_path / "c.yaml"), "--out-dir", str(tmp_path / "tasks")])
    common = ["--tasks-dir", str(tmp_path / "tasks"), "--config", str(tmp_path / "c.yaml"), "--text", str(text)]
    job = []
    for name in ("m", "other", "copy"):
        job += ["--model", str(tmp_path / name), "--out", str(tmp_path / f"{name}.json"),
                "--perplexity", str(tmp_path / f"{name}.ppl.json")]
    capsys.readouterr()
    main(job + common)
    said = capsys.readouterr().out
    assert said.count("scored once") == 2 and f"{tmp_path / 'copy'} has the files of {tmp_path / 'm'}" in said
    main(["--model", str(tmp_path / "copy"), "--out", str(tmp_path / "alone.json"),
          "--perplexity", str(tmp_path / "alone.ppl.json")] + common)
    assert (tmp_path / "copy.json").read_bytes() == (tmp_path / "m.json").read_bytes() == (tmp_path / "alone.json").read_bytes()
    assert (tmp_path / "copy.ppl.json").read_bytes() == (tmp_path / "alone.ppl.json").read_bytes()
    assert (tmp_path / "other.ppl.json").read_bytes() != (tmp_path / "m.ppl.json").read_bytes()
    # Same names and sizes, other bytes: scored, not copied.
    from safetensors.torch import load_file, save_file

    weights = load_file(tmp_path / "copy" / "model.safetensors")
    first = sorted(weights)[0]
    weights[first] = weights[first] + 1
    save_file(weights, str(tmp_path / "copy" / "model.safetensors"), metadata={"format": "pt"})
    assert first_equal([str(tmp_path / "m"), str(tmp_path / "copy")]) == [0, 1]


def test_lean_harness_changes_nothing_the_stable_output_holds(tmp_path, monkeypatch):
    """Without lm-eval's environment probe and with compiled templates, the stable result is the
    same bytes; the harness's own functions are back afterwards."""
    import contextlib

    import lm_eval.evaluator
    import lm_eval.utils

    from sinkprune.evaluate import run
    from sinkprune.evaluate.__main__ import eval_settings
    from sinkprune.evaluate.tasks import build_tasks

    save_tiny_llada(tmp_path / "m", max_seq_len=64)
    tasks = ["mini_piqa", "mini_gsm8k"]
    build_tasks(tmp_path / "tasks", seed=0, n_items=6, tasks=tasks)
    config = _config(tasks)
    config["eval"] |= {"limit": 3, "num_fewshot": {"mini_gsm8k": 1}}
    settings = eval_settings(config)
    originals = lm_eval.evaluator.add_env_info, lm_eval.utils.apply_template
    outputs = [run.evaluate_model(str(tmp_path / "m"), run.resolve_tasks(tasks, tmp_path / "tasks", {"mini_gsm8k": 1}),
                                  settings, seed=0)]
    assert (lm_eval.evaluator.add_env_info, lm_eval.utils.apply_template) == originals
    monkeypatch.setattr(run, "lean_harness", contextlib.nullcontext)  # the harness as shipped
    outputs.append(run.evaluate_model(str(tmp_path / "m"), run.resolve_tasks(tasks, tmp_path / "tasks", {"mini_gsm8k": 1}),
                                      settings, seed=0))
    assert json.dumps(outputs[0], sort_keys=True) == json.dumps(outputs[1], sort_keys=True)
    template = "Q: {{question}}\nA:"
    assert run._apply_compiled_template(template, {"question": "2+2"}) == lm_eval.utils.apply_template(template, {"question": "2+2"})
