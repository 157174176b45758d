"""Names of the pruning methods, which of them read the shared sink statistics, and the baseline
each sink-aware method modifies.

Torch-free, so the Snakefile can import it at DAG build time without paying torch's import.
"""

from __future__ import annotations

UNSTRUCTURED = ("magnitude", "wanda", "sparsegpt", "sink_wanda", "sink_sparsegpt", "sink_wanda_unstable",
                "sink_sparsegpt_unstable")
STRUCTURED = ("structured", "sink_structured")
# The same, for set algebra over a config's method list (rules/*.smk).
STRUCTURED_SET = frozenset(STRUCTURED)
METHODS = UNSTRUCTURED + STRUCTURED
# Methods that load results/prune/{model}/shared.pt (the sink scores and the noisy inputs they came
# from); the others (magnitude, wanda, sparsegpt, structured) run without waiting for it. Each
# method measures its own statistics of the dense model in its job (methods.dense_statistics).
NEEDS_SHARED = ("sink_wanda", "sink_sparsegpt", "sink_wanda_unstable", "sink_sparsegpt_unstable",
                "sink_structured")
# Sink-aware method -> the baseline it modifies (the audit compares each pair).
SINK_BASELINES = {method: method.removeprefix("sink_").removesuffix("_unstable")
                  for method in METHODS if method.startswith("sink_")}
