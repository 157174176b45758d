# Evaluate stage: lm-eval on the offline mini tasks (or the paper's benchmarks) per model.

# Mini tasks are built by the DAG (rule tasks); the paper's benchmarks ship with lm-eval.
TASK_DIRS = ["results/data/tasks"] if config["scale"] == "mini" else []


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
        tasks=TASK_DIRS,
    output:
        "results/eval/{model}/{method}/{sparsity}.json",
    params:
        model=checkpoint_path,
        tasks=",".join(TASKS),
        tasks_dir=lambda w, input: f"--tasks-dir {input.tasks}" if input.tasks else "",
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
        "{PY} sinkprune.evaluate --config {CONFIGFILE} --model {params.model} {params.tasks_dir} "
        "--tasks {params.tasks} --out {output} > {log} 2>&1"
