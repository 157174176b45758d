# Preflight: in seconds, before any GPU job, check that the cache holds every model and dataset,
# that a GPU is visible where the config wants one and that the disk has room. No output file:
# it runs each time it is asked for (`snakemake preflight --configfile config/paper.yaml`).


rule preflight:
    params:
        config=CONFIGFILE,
    log:
        "logs/preflight.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune preflight --config {params.config} 2>&1 | tee {log}"


# The same check as the first job of a run that reads hub checkpoints (paper scale): every such
# job takes its marker as input (common.smk PREFLIGHT); temp(), so each run checks again.
rule preflight_passed:
    output:
        temp(PREFLIGHT),
    params:
        config=CONFIGFILE,
    log:
        "logs/preflight/preflight.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune preflight --config {params.config} 2>&1 | tee {log}; touch {output}"
