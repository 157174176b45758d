# Prune stage: sink scores once per model, then one pruned model per method × sparsity.

# Package source every pruning rule runs (a param: editing it reruns them).
PRUNE_STAGE = stage("sinkprune.prune.api", "sinkprune.device", entry="sinkprune.prune.__main__")
# (method, sparsity) of every pruned model of one model; shared.pt when a method reads it.
PRUNE_RUNS = [(meth, s) for meth in METHODS for s in sparsities(meth)]
PRUNE_SHARED = ["results/prune/{model}/shared.pt"] if set(METHODS) & set(NEEDS_SHARED) else []


if GROUP_SPARSITIES:

    # One job per model (prune.group_sparsities: true, the mini setting) writes everything the
    # prune stage writes for that model: the sink scores, every method at every sparsity (its
    # structured ratios too) and the protocol difference, loading the dense model once; at mini
    # scale each job's start-up (imports, loading) costs more than its pruning.
    rule prune:
        priority: PRIORITY["prune"]
        input:
            model=lambda w: model_input(w.model),
            calib="results/data/calibration/{model}.pt",
        output:
            shared=PRUNE_SHARED,
            models=[temp(directory(f"results/prune/{{model}}/{meth}/{s}/model")) for meth, s in PRUNE_RUNS],
            reports=[f"results/prune/{{model}}/{meth}/{s}/report.json" for meth, s in PRUNE_RUNS],
            diff="results/prune/{model}/protocol_diff.csv",
        params:
            **stage("sinkprune.prune.api", "sinkprune.device", "sinkprune.prune.protocol_diff", entry="sinkprune.prune.__main__"),
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
            timings="benchmarks/prune/{model}",
        threads: config["threads"]
        resources:
            **resources_for("prune"),
        log:
            "logs/prune/{model}.log",
        benchmark:
            "benchmarks/prune/{model}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune prune all --config {params.config} --model {params.model} --name {wildcards.model} "
            "--calib {input.calib} --out-dir results/prune/{wildcards.model} --timing-dir {params.timings} "
            "> {log} 2>&1"

else:

    rule prune_stats:
        input:
            model=lambda w: model_input(w.model),
            calib="results/data/calibration/{model}.pt",
        output:
            "results/prune/{model}/shared.pt",
        params:
            **PRUNE_STAGE,
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
        threads: config["threads"]
        resources:
            **resources_for("prune_stats"),
        log:
            "logs/prune/{model}/stats.log",
        benchmark:
            "benchmarks/prune/{model}/stats.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune prune stats --config {params.config} --model {params.model} "
            "--calib {input.calib} --out {output} > {log} 2>&1"


    # One job per model × method × sparsity (prune.group_sparsities: false, the paper setting):
    # an 8B job loads the model, prunes and saves one checkpoint, so each fits its own limits
    # and a failure costs one sparsity. The checkpoint is temp(): removed once its evaluations ran.
    rule prune:
        priority: PRIORITY["prune"]
        input:
            model=lambda w: model_input(w.model),
            calib="results/data/calibration/{model}.pt",
            shared=shared_stats_input,
        output:
            model=temp(directory("results/prune/{model}/{method}/{sparsity}/model")),
            report="results/prune/{model}/{method}/{sparsity}/report.json",
        params:
            **PRUNE_STAGE,
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
            shared=lambda w, input: f"--shared {input.shared}" if input.shared else "",
            timing="benchmarks/prune/{model}/{method}/{sparsity}.json",
        wildcard_constraints:
            method="|".join(sorted(METHODS)) or "NONE",
        threads: config["threads"]
        resources:
            **resources_for("prune"),
        log:
            "logs/prune/{model}/{method}/{sparsity}.log",
        benchmark:
            "benchmarks/prune/{model}/{method}/{sparsity}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune prune run --config {params.config} --model {params.model} --calib {input.calib} "
            "{params.shared} --method {wildcards.method} --sparsity {wildcards.sparsity} "
            "--out {output.model} --report {output.report} --timing {params.timing} > {log} 2>&1"

    # Share of mask entries that differ between protocol released and corrected, for every method
    # and sparsity of the config: the dense model pruned both ways in one process (docs/deviations.md).
    rule protocol_diff:
        input:
            model=lambda w: model_input(w.model),
            calib="results/data/calibration/{model}.pt",
        output:
            "results/prune/{model}/protocol_diff.csv",
        params:
            **stage("sinkprune.prune.protocol_diff", "sinkprune.device", entry="sinkprune.prune.__main__"),
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
        threads: config["threads"]
        resources:
            **resources_for("protocol_diff"),
        log:
            "logs/prune/{model}/protocol_diff.log",
        benchmark:
            "benchmarks/prune/{model}/protocol_diff.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune prune diff --config {params.config} --model {params.model} --name {wildcards.model} "
            "--calib {input.calib} --out {output} > {log} 2>&1"
