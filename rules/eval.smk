# Evaluate stage: lm-eval on the offline mini tasks (or the paper's benchmarks).

# Mini tasks are built by the DAG (rule tasks); the paper's benchmarks ship with lm-eval.
TASK_DIRS = ["results/data/tasks"] if config["scale"] == "mini" else []


def pruned_checkpoints(wildcards):
    """Every pruned checkpoint of one model × method (one evaluation job covers them all)."""
    return [f"results/prune/{wildcards.model}/{wildcards.method}/{s}/model" for s in sparsities(wildcards.method)]


rule evaluate_dense:
    input:
        model=lambda w: model_input(w.model),
        tasks=TASK_DIRS,
    output:
        "results/eval/{model}/dense/0.00.json",
    params:
        models=lambda w: f"--model {model_dir(w.model)}",
        outs=lambda w, output: " ".join(f"--out {o}" for o in output),
        tasks=",".join(TASKS),
        tasks_dir=lambda w, input: f"--tasks-dir {input.tasks}" if input.tasks else "",
        cfg=cfg("seed", "eval"),
    threads: config["threads"]
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        gpu=res("evaluate", "gpu"),
    log:
        "logs/eval/{model}/dense.log",
    benchmark:
        "benchmarks/eval/{model}/dense.tsv"
    conda:
        "../environment.yml"
    shell:
        "{PY} sinkprune.evaluate --config {CONFIGFILE} {params.models} {params.tasks_dir} "
        "--tasks {params.tasks} {params.outs} > {log} 2>&1"


# One job per model × method evaluates every sparsity of that method: at mini scale imports and
# task loading cost more than one model's evaluation (structured ratios: second rule).
use rule evaluate_dense as evaluate with:
    input:
        models=pruned_checkpoints,
        tasks=TASK_DIRS,
    output:
        [f"results/eval/{{model}}/{{method}}/{s}.json" for s in config["prune"]["sparsities"]],
    params:
        models=lambda w, input: " ".join(f"--model {m}" for m in input.models),
        outs=lambda w, output: " ".join(f"--out {o}" for o in output),
        tasks=",".join(TASKS),
        tasks_dir=lambda w, input: f"--tasks-dir {input.tasks}" if input.tasks else "",
        cfg=cfg("seed", "eval"),
    wildcard_constraints:
        method="|".join(sorted(set(METHODS) - STRUCTURED)) or "NONE",
    log:
        "logs/eval/{model}/{method}.log",
    benchmark:
        "benchmarks/eval/{model}/{method}.tsv"


use rule evaluate as evaluate_structured with:
    output:
        [f"results/eval/{{model}}/{{method}}/{s}.json" for s in config["prune"].get("structured_ratios", [])],
    wildcard_constraints:
        method="|".join(sorted(set(METHODS) & STRUCTURED)) or "NONE",
