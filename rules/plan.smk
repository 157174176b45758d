# Plan: every job of `snakemake all` with its estimated FLOPs, time, GPU / host memory and disk,
# checked against its config resources. Logic: sinkprune/plan.py. `snakemake plan`; exits
# non-zero when a job's estimate exceeds its limits. See docs/paper-scale-jobs.md.


rule plan:
    """Print the plan and write benchmarks/plan.tsv (beside the measured benchmarks; not under
    results/, whose checksum manifest it would change).

    Like `verify`, deliberately without declared outputs: a rule without outputs runs every
    time it is asked for, and a plan that flags a job must not leave a stale file behind.
    """
    params:
        code=source_hash("sinkprune.plan"),
        config=CONFIGFILE,
    resources:
        **resources_for("plan"),
    log:
        "logs/plan.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune plan --config {params.config} --out benchmarks/plan.tsv 2>&1 | tee {log}"
