"""One task evaluated as K shards (config ``eval.shards: {task: K}``) and the shards merged back.

Shard i of K scores documents i, i+K, i+2K, … of the task through lm-eval's own
``simple_evaluate(samples={task: indices})`` and keeps each document's metric values, so the
merge recomputes every metric and its standard error with lm-eval's aggregation and stderr
functions on the union: the merged result is the one a single job over every document writes.

Few-shot examples: lm-eval draws them for each document in turn from one random generator
seeded per task, so a shard that skipped documents would draw different examples.
``ShardSampler`` replays the draws of every document in order and hands each shard document
the examples the unsharded run gives it. lm-eval has no merge of sharded results, hence this
module.
"""

from __future__ import annotations

from typing import Any


def shard_indices(n_docs: int, index: int, count: int) -> list[int]:
    """Document indices of shard ``index`` of ``count`` over ``n_docs`` documents (i::K)."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index} of {count}: need 0 <= index < count")
    return list(range(index, n_docs, count))


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/K"`` → (I, K); ValueError naming the option otherwise."""
    try:
        index, count = (int(x) for x in text.split("/"))
        shard_indices(0, index, count)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/K with 0 <= I < K") from None
    return index, count


class ShardSampler:
    """lm-eval few-shot sampler that gives shard documents the unsharded run's examples.

    On the first draw (after ``simple_evaluate`` has re-seeded the sampler) the wrapped sampler
    draws for every evaluated document in order, as the unsharded run does; the draws of the
    shard's documents are then returned in turn (lm-eval builds requests in document order).
    """

    def __init__(self, inner: Any, docs: list[Any], indices: list[int], same_split: bool) -> None:
        self._inner, self._docs, self._indices, self._same_split = inner, docs, indices, same_split
        self._queue: list[Any] | None = None

    def set_rnd(self, rnd: int | None) -> "ShardSampler":
        self._inner.set_rnd(rnd)
        self._queue = None
        return self

    def sample(self, n: int, eval_doc: Any = None, df: Any = None) -> list[Any]:
        if self._queue is None:
            draws = [self._inner.sample(n, eval_doc=doc if self._same_split else None, df=df) for doc in self._docs]
            self._queue = [draws[i] for i in self._indices]
        return self._queue.pop(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def prepare_shard(task: Any, index: int, count: int, limit: int | None) -> list[int]:
    """Indices of this shard among the documents an unsharded run scores (``limit`` caps them);
    installs ``ShardSampler`` on ``task`` when it draws few-shot examples. KeyError for an empty shard."""
    docs = list(task.eval_docs)
    if limit is not None:
        docs = docs[: int(limit)]
    indices = shard_indices(len(docs), index, count)
    if not indices:
        raise KeyError(f"eval.shards: task {task.config.task} has {len(docs)} documents, too few for shard {index} "
                       f"of {count}")
    sampler = getattr(task, "sampler", None)
    if sampler is not None:
        same = task.fewshot_cfg.split == task.config.test_split if hasattr(task, "fewshot_cfg") else False
        task.sampler = ShardSampler(sampler, docs, indices, same)
    return indices


def aggregation_names(task: Any) -> dict[str, str]:
    """{metric: lm-eval registry name of its aggregation} (what the merge recomputes with)."""
    from lm_eval.api.registry import AGGREGATION_REGISTRY

    by_fn = {fn: name for name, fn in AGGREGATION_REGISTRY.items()}
    names = {}
    for metric, fn in task.aggregation().items():
        if fn not in by_fn:
            raise KeyError(f"task {task.config.task}: aggregation of {metric!r} is not in lm-eval's registry; "
                             "it cannot be sharded (remove it from eval.shards)")
        names[metric] = by_fn[fn]
    return names


def shard_record(task: str, index: int, count: int, samples: list[dict], aggregation: dict[str, str],
                 bootstrap_iters: int) -> dict:
    """What a shard keeps beside lm-eval's results: its documents and their metric values."""
    values: dict[str, dict[int, Any]] = {}
    for s in samples:
        for metric in s["metrics"]:
            values.setdefault(f"{metric},{s['filter']}", {})[int(s["doc_id"])] = s[metric]
    doc_ids = sorted({int(s["doc_id"]) for s in samples})
    return {"task": task, "index": index, "count": count, "doc_ids": doc_ids, "aggregation": aggregation,
            "bootstrap_iters": bootstrap_iters,
            "values": {key: [per_doc[d] for d in doc_ids] for key, per_doc in sorted(values.items())}}


def merge_shards(parts: list[dict], names: list[str]) -> dict:
    """One per-task result from the K shard results of one task; ValueError naming any problem."""
    from lm_eval.api.metrics import stderr_for_metric
    from lm_eval.api.registry import get_aggregation

    records = [p["shard"] for p in parts]
    task, count = records[0]["task"], records[0]["count"]
    found = sorted(r["index"] for r in records)
    if any(r["task"] != task or r["count"] != count for r in records) or found != list(range(count)):
        raise ValueError(f"shards of task {task!r}: expected indices 0..{count - 1} of {count}, got {found} "
                         f"({', '.join(names)})")
    records = sorted(records, key=lambda r: r["index"])
    doc_ids = [d for r in records for d in r["doc_ids"]]
    if len(set(doc_ids)) != len(doc_ids):
        raise ValueError(f"shards of task {task!r} overlap ({', '.join(names)})")
    order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__)
    # Everything but the per-document values and counts must agree between shards.
    first = {k: v for k, v in parts[0].items() if k not in ("shard", "results", "n-samples")}
    for name, part in zip(names, parts):
        rest = {k: v for k, v in part.items() if k not in ("shard", "results", "n-samples")}
        if rest != first:
            differ = sorted(k for k in set(rest) | set(first) if rest.get(k) != first.get(k))
            raise ValueError(f"{name}: {', '.join(differ)} differ from the other shards of {task!r}")
        if part["n-samples"][task]["original"] != parts[0]["n-samples"][task]["original"]:
            raise ValueError(f"{name}: n-samples.{task}.original differs from the other shards")
        if (part["shard"]["aggregation"], part["shard"]["bootstrap_iters"]) != (
                records[0]["aggregation"], records[0]["bootstrap_iters"]):
            raise ValueError(f"{name}: aggregation settings differ from the other shards of {task!r}")
    keys = set(records[0]["values"])
    if any(set(r["values"]) != keys for r in records):
        raise ValueError(f"shards of task {task!r} scored different metrics ({', '.join(names)})")
    entry = dict(parts[0]["results"][task])
    for key in sorted(keys):
        metric, filt = key.split(",", 1)
        union = [v for r in records for v in r["values"][key]]
        items = [union[i] for i in order]  # document order, as the unsharded run collects them
        agg = get_aggregation(records[0]["aggregation"][metric])
        entry[key] = agg(items)
        stderr = stderr_for_metric(agg, records[0]["bootstrap_iters"])
        entry[f"{metric}_stderr,{filt}"] = stderr(items) if (stderr and len(items) > 1) else "N/A"
    if "sample_len" in entry:
        entry["sample_len"] = len(doc_ids)
    merged = dict(first)
    merged["results"] = dict(parts[0]["results"], **{task: entry})
    merged["n-samples"] = {task: {"original": parts[0]["n-samples"][task]["original"], "effective": len(doc_ids)}}
    return merged
