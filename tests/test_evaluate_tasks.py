"""Mini task files: deterministic, well-formed for lm-eval, chance recorded; bad input fails early."""

import json
import os

import pytest
import yaml

from sinkprune.evaluate.tasks import MINI_TASKS, build_tasks

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _paper_eval() -> dict:
    """The ``eval`` section of config/paper.yaml: the paper's lm-eval task names and shots."""
    from sinkprune.config import REPO_ROOT

    return yaml.safe_load((REPO_ROOT / "config" / "paper.yaml").read_text())["eval"]


def _read_all(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_build_tasks_is_deterministic_and_complete(tmp_path):
    names = list(MINI_TASKS)
    build_tasks(tmp_path / "a", seed=0, n_items=30, tasks=names)
    build_tasks(tmp_path / "b", seed=0, n_items=30, tasks=names)
    build_tasks(tmp_path / "c", seed=1, n_items=30, tasks=names)
    a, b, c = (_read_all(tmp_path / d) for d in "abc")
    jsonl = [k for k in a if k.endswith(".jsonl")]
    assert all(a[k] == b[k] for k in jsonl), "same seed must give byte-identical task data"
    assert any(a[k] != c[k] for k in jsonl), "the seed must matter"
    sidecar = json.loads(a["tasks.json"])
    assert set(sidecar) == set(names) and all(f"{n}.yaml" in a for n in names)
    for name, task in MINI_TASKS.items():
        spec = yaml.safe_load(a[f"{name}.yaml"])
        files = spec["dataset_kwargs"]["data_files"]
        assert spec["dataset_path"] == "json" and spec["test_split"] == "test"
        assert all(not os.path.isabs(f) and (tmp_path / "a" / f).exists() for f in files.values())
        assert spec["num_fewshot"] == task.num_fewshot == _paper_eval()["num_fewshot"][task.counterpart_of]
        assert ("train" in files) == (task.num_fewshot > 0)
        assert spec["metadata"]["chance"] == sidecar[name]["chance"] == task.chance
        docs = [json.loads(line) for line in (tmp_path / "a" / f"{name}.jsonl").read_text().splitlines()]
        assert len(docs) == 30
        if task.kind == "mc":
            assert all(len(d["choices"]) == task.num_choices == len(set(d["choices"])) for d in docs)
            labels = {d["label"] for d in docs}
            assert len(labels) > 1, "the right answer must not always sit at the same position"
        elif task.kind == "partial":
            assert all(len(d["options"]) == 2 for d in docs)
        else:
            assert task.chance == 0.0 and all(d["answer"].isdigit() for d in docs)


def test_every_paper_benchmark_has_one_mini_counterpart():
    """arc_easy is evaluated only after structured pruning and has no mini counterpart."""
    paper = [t for t in _paper_eval()["tasks"] if t != "arc_easy"]
    counterparts = [task.counterpart_of for task in MINI_TASKS.values()]
    assert sorted(counterparts) == sorted(paper)
    assert all(name.startswith("mini_") for name in MINI_TASKS)


def test_unknown_mini_task_is_named(tmp_path):
    with pytest.raises(KeyError, match="mini_nope"):
        build_tasks(tmp_path, seed=0, n_items=5, tasks=["mini_piqa", "mini_nope"])


def test_cli_fails_before_model_load_naming_unknown_task(tmp_path, capsys):
    from sinkprune.evaluate.__main__ import main

    build_tasks(tmp_path / "tasks", seed=0, n_items=5, tasks=["mini_piqa"])
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_config(["mini_piqa"])))
    # The model directory does not exist: reaching the model would give a different error.
    with pytest.raises(SystemExit) as err:
        main(["--model", str(tmp_path / "no_model"), "--tasks-dir", str(tmp_path / "tasks"),
              "--tasks", "mini_piqa,mini_bogus", "--config", str(config), "--out", str(tmp_path / "o.json")])
    assert "mini_bogus" in str(err.value) and "no_model" not in str(err.value)
    (tmp_path / "tasks" / "mini_piqa.jsonl").unlink()
    with pytest.raises(SystemExit) as err:
        main(["--model", str(tmp_path / "no_model"), "--tasks-dir", str(tmp_path / "tasks"),
              "--tasks", "mini_piqa", "--config", str(config), "--out", str(tmp_path / "o.json")])
    assert "mini_piqa.jsonl" in str(err.value) and "no_model" not in str(err.value)
    assert not (tmp_path / "o.json").exists()


def test_paper_task_names_resolve_in_pinned_lm_eval():
    """lm-eval ships these task YAMLs; names change across releases, hence the pin."""
    from sinkprune.evaluate.run import task_manager

    known = set(task_manager(True).all_tasks)
    wanted = _paper_eval()["tasks"]
    assert [t for t in wanted if t not in known] == []
    assert "not_a_benchmark_xyz" not in known


def _config(tasks):
    from sinkprune.config import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "config" / "mini.yaml").read_text())
    config["eval"] = {"tasks": tasks, "mc_num": 4, "batch_size": 16, "limit": 5}
    return config


def test_task_files_do_not_depend_on_where_the_clone_lives(tmp_path, monkeypatch):
    """Two clones at different absolute paths: byte-identical task files and manifest lines."""
    from sinkprune.checksums import build_manifest, format_manifest

    manifests = []
    for clone in (tmp_path / "a", tmp_path / "somewhere" / "else" / "b"):
        build_tasks(clone / "results" / "data" / "tasks", seed=0, n_items=5, tasks=list(MINI_TASKS))
        monkeypatch.chdir(clone)
        manifests.append(format_manifest(build_manifest("results", "results/manifest.sha256")))
        assert str(clone) not in "".join(p.read_text() for p in (clone / "results").rglob("*.yaml"))
    assert manifests[0] == manifests[1]
    assert manifests[0].count(".yaml\n") == len(MINI_TASKS)


def test_moved_tasks_load_from_any_working_directory(tmp_path, monkeypatch):
    """Data files are found next to the YAML, whatever the working directory."""
    import shutil

    from sinkprune.evaluate.run import resolve_tasks

    build_tasks(tmp_path / "built", seed=0, n_items=5, tasks=["mini_piqa", "mini_mmlu"])
    shutil.move(tmp_path / "built", tmp_path / "moved")
    monkeypatch.chdir(tmp_path)
    resolved = resolve_tasks(["mini_piqa", "mini_mmlu"], "moved", {})
    assert [len(task.eval_docs) for task in resolved.objects] == [5, 5]
    assert resolved.data_files["mini_mmlu"] == {"test": "mini_mmlu.jsonl", "train": "mini_mmlu.fewshot.jsonl"}
    assert resolved.config_files == {"mini_piqa": "mini_piqa.yaml", "mini_mmlu": "mini_mmlu.yaml"}


def save_tiny_llada(directory, max_seq_len: int, seed: int = 0):
    """A one-layer random LLaDA (init ``seed``) with a tokenizer trained on skill lines, saved to
    ``directory``; returns the tokenizer."""
    from sinkprune.data.skills import training_lines
    from sinkprune.data.tokenizer import special_ids, train_tokenizer
    from sinkprune.models import build_model, save_model

    tok = train_tokenizer(training_lines(2000, 0), vocab_size=400, image_tokens=0)
    model = build_model("llada", {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64,
                                  "tie_embeddings": True}, vocab_size=len(tok), max_seq_len=max_seq_len,
                        special_ids=special_ids(tok), seed=seed)
    save_model(model, directory)
    tok.save_pretrained(str(directory))
    return tok
