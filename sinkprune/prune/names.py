"""Names of the pruning methods and which of them read the shared sink statistics.

Torch-free, so the Snakefile can import it at DAG build time without paying torch's import.
"""

from __future__ import annotations

UNSTRUCTURED = ("magnitude", "wanda", "sparsegpt", "sink_wanda", "sink_sparsegpt", "sink_wanda_unstable",
                "sink_sparsegpt_unstable")
STRUCTURED = ("structured", "sink_structured")
METHODS = UNSTRUCTURED + STRUCTURED
# Methods that load results/prune/{model}/shared.pt (the sink scores and the noisy inputs they came
# from); the others (magnitude, wanda, sparsegpt, structured) run without waiting for it. Each
# method measures its own statistics of the dense model in its job (methods.dense_statistics).
NEEDS_SHARED = ("sink_wanda", "sink_sparsegpt", "sink_wanda_unstable", "sink_sparsegpt_unstable",
                "sink_structured")
