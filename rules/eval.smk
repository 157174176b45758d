# Evaluate stage: the offline mini tasks, then lm-eval on them (or on the paper's benchmarks).

# Package source every evaluation rule runs (a param: editing it reruns them).
EVAL_STAGE = stage(
    "sinkprune.evaluate.run",
    "sinkprune.evaluate.shards",
    "sinkprune.models.checkpoint",
    "sinkprune.device",
    "sinkprune.config",
    entry="sinkprune.evaluate.__main__",
)
# The grouped evaluation jobs also compute perplexity.
EVAL_PPL_STAGE = stage(
    "sinkprune.evaluate.run",
    "sinkprune.evaluate.shards",
    "sinkprune.evaluate.perplexity",
    "sinkprune.models.checkpoint",
    "sinkprune.device",
    "sinkprune.config",
    entry="sinkprune.evaluate.__main__",
)

# Perplexity as the release computes it after pruning (sinkprune/evaluate/perplexity.py): mini
# reads the held-out text, paper WikiText-2 test. Written by the evaluation jobs (eval.split:
# grouped) or one job per evaluated model (eval.split: task).
PPL_TEXT = ["results/data/corpus_heldout.txt"] if config["scale"] == "mini" else []


# The offline mini tasks (lm-eval YAML + JSONL) built from the synthetic skills; the paper's
# benchmarks ship with lm-eval (TASK_DIRS in rules/common.smk is empty at paper scale).
rule tasks:
    priority: PRIORITY["train"]
    output:
        directory("results/data/tasks"),
    params:
        **stage("sinkprune.evaluate.tasks", entry="sinkprune.evaluate.__main__"),
        config=CONFIGFILE,
    resources:
        **resources_for("tasks"),
    log:
        "logs/eval/tasks.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune evaluate build-tasks --config {params.config} --out-dir {output} > {log} 2>&1"


if EVAL_SPLIT == "grouped":

    # eval.split: grouped (the mini setting): two jobs per model (sinkprune/evaluate/groups.py)
    # score the dense model and every pruned one, each with its perplexity (same process, after
    # lm-eval): at mini scale a job's start-up (imports, task loading) costs more than one model's
    # evaluation, and pruned models with equal files (sink_*_unstable where every sink is
    # unstable) are scored once (sinkprune/evaluate/same_weights.py).
    EVAL_GROUP_PARAMS = dict(
        **EVAL_PPL_STAGE,
        config=CONFIGFILE,
        outs=lambda w, output: " ".join(f"--out {o}" for o in output.results),
        ppl=lambda w, output: " ".join(f"--perplexity {o}" for o in output.perplexity),
        tasks=",".join(TASKS),
        tasks_dir=lambda w, input: f"--tasks-dir {input.tasks}" if input.tasks else "",
        text=lambda w, input: f"--text {input.text}" if input.text else "",
    )


    rule evaluate:
        priority: PRIORITY["evaluate"]
        input:
            dense=lambda w: model_input(w.model),
            pruned=eval_group("results/prune/{model}/{method}/{sparsity}/model", 0, dense=False),
            tasks=TASK_DIRS,
            text=PPL_TEXT,
        output:
            results=eval_group("results/eval/{model}/{method}/{sparsity}.json", 0),
            perplexity=eval_group("results/eval/{model}/{method}/{sparsity}/perplexity.json", 0),
        params:
            **EVAL_GROUP_PARAMS,
            models=lambda w, input: " ".join(f"--model {m}" for m in [model_dir(w.model), *input.pruned]),
        threads: config["threads"]
        resources:
            **resources_for("evaluate"),
        log:
            "logs/eval/{model}.log",
        benchmark:
            "benchmarks/eval/{model}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune evaluate --config {params.config} {params.models} {params.tasks_dir} "
            "--tasks {params.tasks} {params.outs} {params.ppl} {params.text} > {log} 2>&1"


    use rule evaluate as evaluate_rest with:
        input:
            pruned=eval_group("results/prune/{model}/{method}/{sparsity}/model", 1, dense=False),
            tasks=TASK_DIRS,
            text=PPL_TEXT,
        output:
            results=eval_group("results/eval/{model}/{method}/{sparsity}.json", 1),
            perplexity=eval_group("results/eval/{model}/{method}/{sparsity}/perplexity.json", 1),
        params:
            **EVAL_GROUP_PARAMS,
            models=lambda w, input: " ".join(f"--model {m}" for m in input.pruned),
        log:
            "logs/eval/{model}-rest.log",
        benchmark:
            "benchmarks/eval/{model}-rest.tsv"

else:

    # eval.split: task (the paper setting): one job per evaluated model × task, so each job's
    # estimated time fits its runtime (`snakemake plan`) and a timeout loses one task, not a
    # model's whole evaluation; merge_eval joins the tasks into the same JSON one job would write.
    rule evaluate_task:
        input:
            model=eval_checkpoint,
            tasks=TASK_DIRS,
        output:
            "results/eval_tasks/{model}/{method}/{sparsity}/{task}.json",
        params:
            **EVAL_STAGE,
            config=CONFIGFILE,
            model=eval_model_arg,
            tasks_dir=lambda w, input: f"--tasks-dir {input.tasks}" if input.tasks else "",
        wildcard_constraints:
            method="|".join(["dense", *sorted(METHODS)]),
            sparsity=r"0\.00|\d\.\d\d|\d+-\d+",
            task="|".join(map(re.escape, TASKS)),
        threads: config["threads"]
        resources:
            **resources_for("evaluate"),
        log:
            "logs/eval/{model}/{method}/{sparsity}/{task}.log",
        benchmark:
            "benchmarks/eval/{model}/{method}/{sparsity}/{task}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune evaluate --config {params.config} --model {params.model} {params.tasks_dir} "
            "--tasks {wildcards.task} --out {output} > {log} 2>&1"

    # A task in eval.shards: K jobs, shard i scoring documents i::K (sinkprune/evaluate/shards.py),
    # so a long task (GSM8K generation) fits the runtime; merge_eval joins the shards exactly.
    rule evaluate_shard:
        input:
            model=eval_checkpoint,
            tasks=TASK_DIRS,
        output:
            "results/eval_tasks/{model}/{method}/{sparsity}/{task}.shard{shard}-of-{shards}.json",
        params:
            **EVAL_STAGE,
            config=CONFIGFILE,
            model=eval_model_arg,
            tasks_dir=lambda w, input: f"--tasks-dir {input.tasks}" if input.tasks else "",
        wildcard_constraints:
            method="|".join(["dense", *sorted(METHODS)]),
            sparsity=r"0\.00|\d\.\d\d|\d+-\d+",
            task="|".join(map(re.escape, EVAL_SHARDS)) or "NONE",
            shard=r"\d+",
            shards=r"\d+",
        threads: config["threads"]
        resources:
            **resources_for("evaluate"),
        log:
            "logs/eval/{model}/{method}/{sparsity}/{task}.shard{shard}-of-{shards}.log",
        benchmark:
            "benchmarks/eval/{model}/{method}/{sparsity}/{task}.shard{shard}-of-{shards}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune evaluate --config {params.config} --model {params.model} {params.tasks_dir} "
            "--tasks {wildcards.task} --shard {wildcards.shard}/{wildcards.shards} --out {output} > {log} 2>&1"

    rule merge_eval:
        input:
            lambda w: eval_task_files(w.model, w.method, w.sparsity),
        output:
            "results/eval/{model}/{method}/{sparsity}.json",
        params:
            **stage("sinkprune.evaluate.merge", "sinkprune.evaluate.shards"),
        wildcard_constraints:
            method="|".join(["dense", *sorted(METHODS)]),
            sparsity=r"0\.00|\d\.\d\d|\d+-\d+",
        resources:
            **resources_for("merge_eval"),
        log:
            "logs/eval/{model}/{method}/{sparsity}.merge.log",
        localrule: True
        conda:
            "../environment.yml"
        shell:
            "sinkprune evaluate merge {input} --out {output} > {log} 2>&1"

    # One perplexity job per evaluated model (dense or one pruned sparsity), as evaluate_task.
    rule perplexity:
        input:
            model=eval_checkpoint,
            text=PPL_TEXT,
        output:
            "results/eval/{model}/{method}/{sparsity}/perplexity.json",
        params:
            **stage("sinkprune.evaluate.perplexity", "sinkprune.device", entry="sinkprune.evaluate.__main__"),
            config=CONFIGFILE,
            model=eval_model_arg,
            text=lambda w, input: f"--text {input.text}" if input.text else "",
        wildcard_constraints:
            method="|".join(["dense", *sorted(METHODS)]),
            sparsity=r"0\.00|\d\.\d\d|\d+-\d+",
        threads: config["threads"]
        resources:
            **resources_for("perplexity"),
        log:
            "logs/eval/{model}/{method}/{sparsity}/perplexity.log",
        benchmark:
            "benchmarks/eval/{model}/{method}/{sparsity}/perplexity.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune evaluate perplexity --config {params.config} --model {params.model} {params.text} "
            "--out {output} > {log} 2>&1"
