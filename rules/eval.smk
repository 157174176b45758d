# Evaluate stage: lm-eval on the offline mini tasks (or the paper's benchmarks) per model.


def checkpoint_to_evaluate(wildcards):
    if wildcards.method == "dense":
        return model_input(wildcards.model)
    return [f"results/prune/{wildcards.model}/{wildcards.method}/{wildcards.sparsity}/model"]


def checkpoint_path(wildcards):
    if wildcards.method == "dense":
        return model_dir(wildcards.model)
    return f"results/prune/{wildcards.model}/{wildcards.method}/{wildcards.sparsity}/model"


rule evaluate:
    input:
        model=checkpoint_to_evaluate,
        tasks="results/data/tasks",
    output:
        "results/eval/{model}/{method}/{sparsity}.json",
    params:
        model=checkpoint_path,
        tasks=",".join(TASKS),
        cfg=cfg("seed", "eval"),
    threads: config["threads"]
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        gpu=res("evaluate", "gpu"),
    log:
        "logs/eval/{model}/{method}/{sparsity}.log",
    benchmark:
        "benchmarks/eval/{model}/{method}/{sparsity}.tsv"
    conda:
        "../environment.yml"
    shell:
        "{PY} sinkprune.evaluate --config {CONFIGFILE} --model {params.model} --tasks-dir {input.tasks} "
        "--tasks {params.tasks} --out {output} > {log} 2>&1"
