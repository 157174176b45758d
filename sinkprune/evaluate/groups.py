"""The two grouped evaluation jobs of a model (``eval.split: grouped``; rules/eval.smk).

Job 0 scores the dense model and every method at the first half of the unstructured
sparsities, job 1 the other half and the structured ratios. Two jobs of similar size per model
pack two cores better at the end of a run, and every method at one sparsity stays in one job,
where pruned models with equal files are scored once (``same_weights``).
"""

from __future__ import annotations

from sinkprune.prune.names import STRUCTURED


def eval_job_runs(config: dict, part: int) -> list[tuple[str, str]]:
    """(method, sparsity) of grouped evaluation job ``part`` (0 or 1) of one model, in order."""
    prune = config["prune"]
    unstructured = [str(s) for s in prune["sparsities"]]
    first = set(unstructured[:(len(unstructured) + 1) // 2])
    runs = [("dense", "0.00")] if part == 0 else []
    for method in prune["methods"]:
        specs = prune.get("structured_ratios", []) if method in STRUCTURED else unstructured
        runs += [(method, str(s)) for s in specs if (method not in STRUCTURED and str(s) in first) == (part == 0)]
    return runs
