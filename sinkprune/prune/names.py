"""Names of the pruning methods and which of them read the shared sink statistics.

Torch-free, so the Snakefile can import it at DAG build time without paying torch's import.
"""

from __future__ import annotations

UNSTRUCTURED = ("magnitude", "wanda", "sparsegpt", "sink_wanda", "sink_sparsegpt", "sink_wanda_unstable",
                "sink_sparsegpt_unstable")
STRUCTURED = ("structured", "sink_structured")
METHODS = UNSTRUCTURED + STRUCTURED
# Methods that load results/prune/{model}/shared.pt (sink scores, accumulators, channel norms);
# the others (magnitude, wanda, sparsegpt) run without waiting for it.
NEEDS_SHARED = ("sink_wanda", "sink_sparsegpt", "sink_wanda_unstable", "sink_sparsegpt_unstable", "structured",
                "sink_structured")
