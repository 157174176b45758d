# Prune stage: shared statistics once per model, then one pruned model per method × sparsity.

# Package source every pruning rule runs (a param: editing it reruns them).
PRUNE_CODE = source_hash("sinkprune.prune.api", entry="sinkprune.prune.__main__")


rule prune_stats:
    input:
        model=lambda w: model_input(w.model),
        calib="results/data/calibration/{model}.pt",
    output:
        "results/prune/{model}/shared.pt",
    params:
        py=PY,
        code=PRUNE_CODE,
        config=CONFIGFILE,
        model=lambda w: model_dir(w.model),
        cfg=cfg("seed", "protocol", "sinks", "prune"),
    threads: config["threads"]
    resources:
        mem_mb=res("prune_stats", "mem_mb"),
        runtime=res("prune_stats", "runtime"),
        gpu=res("prune_stats", "gpu"),
    log:
        "logs/prune/{model}/stats.log",
    benchmark:
        "benchmarks/prune/{model}/stats.tsv"
    conda:
        "../environment.yml"
    shell:
        "{params.py} sinkprune.prune stats --config {params.config} --model {params.model} "
        "--calib {input.calib} --out {output} > {log} 2>&1"


# One job per model × method prunes every sparsity of that method from the dense model: at mini
# scale a job's start-up (imports, loading) costs more than the pruning itself. Structured
# methods run at their own channel ratios, hence the second rule.
rule prune:
    input:
        model=lambda w: model_input(w.model),
        calib="results/data/calibration/{model}.pt",
        shared="results/prune/{model}/shared.pt",
    output:
        models=[temp(directory(f"results/prune/{{model}}/{{method}}/{s}/model")) for s in config["prune"]["sparsities"]],
        reports=[f"results/prune/{{model}}/{{method}}/{s}/report.json" for s in config["prune"]["sparsities"]],
    params:
        py=PY,
        code=PRUNE_CODE,
        config=CONFIGFILE,
        model=lambda w: model_dir(w.model),
        sparsities=config["prune"]["sparsities"],
        timings=lambda w, output: [f"benchmarks/prune/{w.model}/{w.method}/{s}.json" for s in sparsities(w.method)],
        cfg=cfg("seed", "protocol", "sinks", "prune"),
    wildcard_constraints:
        method="|".join(sorted(set(METHODS) - STRUCTURED)) or "NONE",
    threads: config["threads"]
    resources:
        mem_mb=res("prune", "mem_mb"),
        runtime=res("prune", "runtime"),
        gpu=res("prune", "gpu"),
    log:
        "logs/prune/{model}/{method}.log",
    benchmark:
        "benchmarks/prune/{model}/{method}.tsv"
    conda:
        "../environment.yml"
    shell:
        "{params.py} sinkprune.prune run --config {params.config} --model {params.model} --calib {input.calib} "
        "--shared {input.shared} --method {wildcards.method} --sparsity {params.sparsities} "
        "--out {output.models} --report {output.reports} --timing {params.timings} > {log} 2>&1"


use rule prune as prune_structured with:
    output:
        models=[temp(directory(f"results/prune/{{model}}/{{method}}/{s}/model")) for s in config["prune"].get("structured_ratios", [])],
        reports=[f"results/prune/{{model}}/{{method}}/{s}/report.json" for s in config["prune"].get("structured_ratios", [])],
    params:
        py=PY,
        code=PRUNE_CODE,
        config=CONFIGFILE,
        model=lambda w: model_dir(w.model),
        sparsities=config["prune"].get("structured_ratios", []),
        timings=lambda w, output: [f"benchmarks/prune/{w.model}/{w.method}/{s}.json" for s in sparsities(w.method)],
        cfg=cfg("seed", "protocol", "sinks", "prune"),
    wildcard_constraints:
        method="|".join(sorted(set(METHODS) & STRUCTURED)) or "NONE",


# Share of mask entries that differ between protocol released and corrected, for every method
# and sparsity of the config: the dense model pruned both ways in one process (docs/deviations.md).
rule protocol_diff:
    input:
        model=lambda w: model_input(w.model),
        calib="results/data/calibration/{model}.pt",
    output:
        "results/prune/{model}/protocol_diff.csv",
    params:
        py=PY,
        code=source_hash("sinkprune.prune.protocol_diff", entry="sinkprune.prune.__main__"),
        config=CONFIGFILE,
        model=lambda w: model_dir(w.model),
        cfg=cfg("seed", "sinks", "prune"),
    threads: config["threads"]
    resources:
        mem_mb=res("protocol_diff", "mem_mb"),
        runtime=res("protocol_diff", "runtime"),
        gpu=res("protocol_diff", "gpu"),
    log:
        "logs/prune/{model}/protocol_diff.log",
    benchmark:
        "benchmarks/prune/{model}/protocol_diff.tsv"
    conda:
        "../environment.yml"
    shell:
        "{params.py} sinkprune.prune diff --config {params.config} --model {params.model} --name {wildcards.model} "
        "--calib {input.calib} --out {output} > {log} 2>&1"
