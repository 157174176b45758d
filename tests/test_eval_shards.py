"""eval.shards: a task scored as K shards (documents i::K) and merged equals the unsharded result;
shard documents see the few-shot examples the unsharded run gives them; the plan splits the cost."""

from __future__ import annotations

import json

import pytest
import yaml

from sinkprune.evaluate.shards import shard_indices
from tests.test_evaluate_tasks import _config, save_tiny_llada

TASKS = ["mini_gsm8k", "mini_winogrande", "mini_hellaswag"]  # generation 5-shot, partial 5-shot, mc 0-shot
LIMIT, K = 7, 3  # uneven shares: 3, 2, 2 documents


def test_shard_indices_cover_every_document_once():
    shards = [shard_indices(7, i, 3) for i in range(3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]
    with pytest.raises(ValueError):
        shard_indices(7, 3, 3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from sinkprune.evaluate.__main__ import main

    tmp = tmp_path_factory.mktemp("shards")
    save_tiny_llada(tmp / "m", max_seq_len=256)
    config = _config(TASKS)
    config["eval"] |= {"limit": LIMIT, "mc_num": 2, "num_fewshot": {"mini_winogrande": 2}}
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    main(["build-tasks", "--config", str(tmp / "c.yaml"), "--out-dir", str(tmp / "tasks")])
    return tmp


def _fewshot_contexts(tasks_dir, task: str, shard: tuple[int, int] | None, wrap: bool = True) -> dict[int, str]:
    """Request context of each evaluated document, as simple_evaluate builds them (seed 1234)."""
    from sinkprune.evaluate.run import resolve_tasks
    from sinkprune.evaluate.shards import prepare_shard, shard_indices

    obj = resolve_tasks([task], tasks_dir, {}).objects[0]
    indices = None
    if shard is not None:
        indices = (prepare_shard(obj, shard[0], shard[1], LIMIT) if wrap
                   else shard_indices(LIMIT, shard[0], shard[1]))
    obj.set_fewshot_seed(seed=1234)
    obj.build_all_requests(limit=None if indices else LIMIT, samples=indices)
    return {(indices[i.doc_id] if indices else i.doc_id): i.args[0] for i in obj.instances}


@pytest.mark.parametrize("task", ["mini_gsm8k", "mini_winogrande"])
def test_shard_documents_get_the_unsharded_few_shot_examples(tiny, task):
    whole = _fewshot_contexts(tiny / "tasks", task, None)
    sharded = {}
    for i in range(K):
        sharded |= _fewshot_contexts(tiny / "tasks", task, (i, K))
    assert sharded == whole
    # Without the replay, lm-eval's one generator per task gives shard 1 other examples.
    assert _fewshot_contexts(tiny / "tasks", task, (1, K), wrap=False) != {
        d: c for d, c in whole.items() if d in shard_indices(LIMIT, 1, K)}


def _values_close(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("task", TASKS)
def test_merged_shards_equal_the_unsharded_result(tiny, task):
    from sinkprune.evaluate.__main__ import main
    from sinkprune.evaluate.merge import main as merge_main

    common = ["--model", str(tiny / "m"), "--tasks-dir", str(tiny / "tasks"), "--config", str(tiny / "c.yaml"),
              "--tasks", task]
    main(common + ["--out", str(tiny / f"{task}.json")])
    parts = [tiny / f"{task}.shard{i}-of-{K}.json" for i in range(K)]
    for i, part in enumerate(parts):
        main(common + ["--shard", f"{i}/{K}", "--out", str(part)])
    # Shards in any order; merged into the file one job writes.
    merge_main([str(p) for p in reversed(parts)] + ["--out", str(tiny / f"{task}.merged.json")])
    whole = json.loads((tiny / f"{task}.json").read_text())
    merged = json.loads((tiny / f"{task}.merged.json").read_text())
    shard0 = json.loads(parts[0].read_text())
    assert shard0["n-samples"][task]["effective"] == 3 and len(shard0["shard"]["doc_ids"]) == 3
    assert {k: v for k, v in merged.items() if k != "results"} == {k: v for k, v in whole.items() if k != "results"}
    assert merged["n-samples"][task] == whole["n-samples"][task] and whole["n-samples"][task]["effective"] == LIMIT
    _values_close(merged["results"][task], whole["results"][task])
    assert any("_stderr," in k for k in merged["results"][task])


def test_merge_refuses_missing_or_foreign_shards(tiny):
    from sinkprune.evaluate.merge import merge_results
    from sinkprune.evaluate.__main__ import main

    common = ["--model", str(tiny / "m"), "--tasks-dir", str(tiny / "tasks"), "--config", str(tiny / "c.yaml"),
              "--tasks", "mini_hellaswag"]
    parts = []
    for i in range(K):
        path = tiny / f"refuse{i}.json"
        if not path.exists():
            main(common + ["--shard", f"{i}/{K}", "--out", str(path)])
        parts.append(json.loads(path.read_text()))
    with pytest.raises(ValueError, match="expected indices 0..2"):
        merge_results(parts[:2])
    with pytest.raises(ValueError, match="seed"):
        merge_results(parts[:2] + [dict(parts[2], seed=99)])


def test_plan_splits_a_sharded_task_by_documents():
    from sinkprune.config import REPO_ROOT, load_config
    from sinkprune.plan import Planner

    config = load_config(REPO_ROOT / "config" / "paper.yaml")
    count = config["eval"]["shards"]["gsm8k"]
    planner = Planner(config)
    whole = planner._eval_cost("llada", "gsm8k")
    shares = planner._shard_shares("llada", "gsm8k", count)
    docs = 1319  # GSM8K test split
    assert [round(s["flops"] / whole["flops"] * docs) for s in shares] == [len(range(i, docs, count))
                                                                          for i in range(count)]
    assert sum(s["flops"] for s in shares) == pytest.approx(whole["flops"], rel=1e-12)
    assert all(s["load_bytes"] == whole["load_bytes"] and s["gpu_mem"] == whole["gpu_mem"] for s in shares)
    jobs = [j for j in planner.build() if j.rule == "evaluate_shard"]
    assert jobs and all(not j.flags for j in jobs)
    assert len(jobs) == count * len([j for j in planner.jobs if j.rule == "merge_eval"])
    with pytest.raises(KeyError, match="eval.shards"):
        Planner(config)._shard_shares("llada", "gsm8k", docs + 1)


def test_a_shard_without_documents_is_named(tiny, capsys):
    from sinkprune.evaluate.__main__ import main

    with pytest.raises(SystemExit) as err:
        main(["--model", str(tiny / "m"), "--tasks-dir", str(tiny / "tasks"), "--config", str(tiny / "c.yaml"),
              "--tasks", "mini_hellaswag", "--shard", f"7/{LIMIT + 1}", "--out", str(tiny / "empty.json")])
    assert "eval.shards" in str(err.value) and "mini_hellaswag" in str(err.value)
