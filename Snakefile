# sinkprune: regenerate every table and figure of "Sink-Aware Pruning for Diffusion Language
# Models" (Myrzakhan et al., 2026). Mini scale by default; `--configfile config/paper.yaml` for
# the paper scale. See README.md.
from snakemake.utils import min_version

min_version("9.0")

# A --configfile on the command line replaces the default instead of being merged into it, so
# the paper config never inherits the mini zoo.
if not workflow.overwrite_configfiles:
    configfile: "config/mini.yaml"

report: "workflow/report/workflow.rst"


include: "rules/common.smk"
wildcard_constraints:
    model="|".join(map(re.escape, MODELS)) if MODELS else "NONE",
    method="[a-z_]+",
    sparsity=r"\d\.\d\d|\d+-\d+",
    state="trained|untrained(-s[1-9][0-9]*)?",


include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/sinks.smk"
include: "rules/prune.smk"
include: "rules/eval.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/checksums.smk"
include: "rules/provenance.smk"
include: "rules/audit.smk"
include: "rules/controls.smk"
include: "rules/paper.smk"
include: "rules/plan.smk"
include: "rules/download.smk"
include: "rules/preflight.smk"


rule all:
    input:
        final_targets(),
        "results/manifest.sha256",
    default_target: True
