# Prune stage: shared statistics once per model, then one pruned model per method × sparsity.


rule prune_stats:
    input:
        model=lambda w: model_input(w.model),
        calib="results/data/calibration.pt",
    output:
        "results/prune/{model}/shared.pt",
    params:
        model=lambda w: model_dir(w.model),
        cfg=cfg("seed", "sinks", "prune"),
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
        "{PY} sinkprune.prune stats --config {CONFIGFILE} --model {params.model} "
        "--calib {input.calib} --out {output} > {log} 2>&1"


rule prune:
    input:
        model=lambda w: model_input(w.model),
        calib="results/data/calibration.pt",
        shared="results/prune/{model}/shared.pt",
    output:
        model=temp(directory("results/prune/{model}/{method}/{sparsity}/model")),
        report="results/prune/{model}/{method}/{sparsity}/report.json",
    params:
        model=lambda w: model_dir(w.model),
        cfg=cfg("seed", "sinks", "prune"),
    threads: config["threads"]
    resources:
        mem_mb=res("prune", "mem_mb"),
        runtime=res("prune", "runtime"),
        gpu=res("prune", "gpu"),
    log:
        "logs/prune/{model}/{method}/{sparsity}.log",
    benchmark:
        "benchmarks/prune/{model}/{method}/{sparsity}.tsv"
    conda:
        "../environment.yml"
    shell:
        "{PY} sinkprune.prune run --config {CONFIGFILE} --model {params.model} --calib {input.calib} "
        "--shared {input.shared} --method {wildcards.method} --sparsity {wildcards.sparsity} "
        "--out {output.model} --report {output.report} > {log} 2>&1"
