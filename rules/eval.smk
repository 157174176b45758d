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


# Perplexity as the release computes it after pruning (sinkprune/evaluate/perplexity.py): mini
# reads the held-out text, paper WikiText-2 test. One job per model × method, like evaluate.
PPL_TEXT = ["results/data/corpus_heldout.txt"] if config["scale"] == "mini" else []


rule perplexity_dense:
    input:
        models=lambda w: model_input(w.model),
        text=PPL_TEXT,
    output:
        "results/eval/{model}/dense/0.00/perplexity.json",
    params:
        py=PY,
        code=source_hash("sinkprune.evaluate.perplexity", entry="sinkprune.evaluate.__main__"),
        config=CONFIGFILE,
        models=lambda w: f"--model {model_dir(w.model)}",
        outs=lambda w, output: " ".join(f"--out {o}" for o in output),
        text=lambda w, input: f"--text {input.text}" if input.text else "",
        cfg=cfg("seed", "protocol", "eval") if "protocol" in config else cfg("seed", "eval"),
    threads: config["threads"]
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        gpu=res("evaluate", "gpu"),
    log:
        "logs/eval/{model}/dense.perplexity.log",
    benchmark:
        "benchmarks/eval/{model}/dense.perplexity.tsv"
    conda:
        "../environment.yml"
    shell:
        "{params.py} sinkprune.evaluate perplexity --config {params.config} {params.models} {params.text} "
        "{params.outs} > {log} 2>&1"


use rule perplexity_dense as perplexity with:
    input:
        models=pruned_checkpoints,
        text=PPL_TEXT,
    output:
        [f"results/eval/{{model}}/{{method}}/{s}/perplexity.json" for s in config["prune"]["sparsities"]],
    params:
        py=PY,
        code=source_hash("sinkprune.evaluate.perplexity", entry="sinkprune.evaluate.__main__"),
        config=CONFIGFILE,
        models=lambda w, input: " ".join(f"--model {m}" for m in input.models),
        outs=lambda w, output: " ".join(f"--out {o}" for o in output),
        text=lambda w, input: f"--text {input.text}" if input.text else "",
        cfg=cfg("seed", "protocol", "eval") if "protocol" in config else cfg("seed", "eval"),
    wildcard_constraints:
        method="|".join(sorted(set(METHODS) - STRUCTURED)) or "NONE",
    log:
        "logs/eval/{model}/{method}.perplexity.log",
    benchmark:
        "benchmarks/eval/{model}/{method}.perplexity.tsv"


use rule perplexity as perplexity_structured with:
    output:
        [f"results/eval/{{model}}/{{method}}/{s}/perplexity.json" for s in config["prune"].get("structured_ratios", [])],
    wildcard_constraints:
        method="|".join(sorted(set(METHODS) & STRUCTURED)) or "NONE",
