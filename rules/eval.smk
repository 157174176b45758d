# Evaluate stage: lm-eval on the offline mini tasks (or the paper's benchmarks).

# Package source both evaluation rules run (a param: editing it reruns them).
EVAL_CODE = source_hash(
    "sinkprune.evaluate.run",
    "sinkprune.models.checkpoint",
    "sinkprune.config",
    entry="sinkprune.evaluate.__main__",
)


rule evaluate_dense:
    input:
        model=lambda w: model_input(w.model),
        tasks=TASK_DIRS,
    output:
        "results/eval/{model}/dense/0.00.json",
    params:
        py=PY,
        code=EVAL_CODE,
        config=CONFIGFILE,
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
        "{params.py} sinkprune.evaluate --config {params.config} {params.models} {params.tasks_dir} "
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
        py=PY,
        code=EVAL_CODE,
        config=CONFIGFILE,
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
