# Prune stage: sink scores once per model, then one pruned model per method × sparsity.

# Package source every pruning rule runs (a param: editing it reruns them).
PRUNE_CODE = source_hash("sinkprune.prune.api", entry="sinkprune.prune.__main__")


rule prune_stats:
    input:
        model=lambda w: model_input(w.model),
        calib="results/data/calibration/{model}.pt",
    output:
        "results/prune/{model}/shared.pt",
    params:
        code=PRUNE_CODE,
        config=CONFIGFILE,
        model=lambda w: model_dir(w.model),
        cfg=cfg("seed", "device", "dtype", "protocol", "sinks", "prune"),
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


if GROUP_SPARSITIES:

    # One job per model × method prunes every sparsity of that method from the dense model: at
    # mini scale a job's start-up (imports, loading) costs more than the pruning itself.
    # Structured methods run at their own channel ratios, hence the second rule.
    rule prune:
        input:
            model=lambda w: model_input(w.model),
            calib="results/data/calibration/{model}.pt",
            shared=shared_stats_input,
        output:
            models=[temp(directory(m)) for m in per_sparsity("results/prune/{model}/{method}/{sparsity}/model")],
            reports=per_sparsity("results/prune/{model}/{method}/{sparsity}/report.json"),
        params:
            code=PRUNE_CODE,
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
            shared=lambda w, input: f"--shared {input.shared}" if input.shared else "",
            sparsities=group_sparsities(),
            timings=lambda w, output: [f"benchmarks/prune/{w.model}/{w.method}/{s}.json" for s in sparsities(w.method)],
            cfg=cfg("seed", "device", "dtype", "sinks", "prune"),
        wildcard_constraints:
            method="|".join(sorted(set(METHODS) - STRUCTURED)) or "NONE",
        threads: config["threads"]
        resources:
            **resources_for("prune"),
        log:
            "logs/prune/{model}/{method}.log",
        benchmark:
            "benchmarks/prune/{model}/{method}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune prune run --config {params.config} --model {params.model} --calib {input.calib} "
            "{params.shared} --method {wildcards.method} --sparsity {params.sparsities} "
            "--out {output.models} --report {output.reports} --timing {params.timings} > {log} 2>&1"

    use rule prune as prune_structured with:
        output:
            models=[temp(directory(m))
                    for m in per_sparsity("results/prune/{model}/{method}/{sparsity}/model", structured=True)],
            reports=per_sparsity("results/prune/{model}/{method}/{sparsity}/report.json", structured=True),
        params:
            code=PRUNE_CODE,
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
            shared=lambda w, input: f"--shared {input.shared}" if input.shared else "",
            sparsities=group_sparsities(structured=True),
            timings=lambda w, output: [f"benchmarks/prune/{w.model}/{w.method}/{s}.json" for s in sparsities(w.method)],
            cfg=cfg("seed", "device", "dtype", "protocol", "sinks", "prune"),
        wildcard_constraints:
            method="|".join(sorted(set(METHODS) & STRUCTURED)) or "NONE",

else:

    # One job per model × method × sparsity (prune.group_sparsities: false, the paper setting):
    # an 8B job loads the model, prunes and saves one checkpoint, so each fits its own limits
    # and a failure costs one sparsity. The checkpoint is temp(): removed once its evaluations ran.
    rule prune:
        input:
            model=lambda w: model_input(w.model),
            calib="results/data/calibration/{model}.pt",
            shared=shared_stats_input,
        output:
            model=temp(directory("results/prune/{model}/{method}/{sparsity}/model")),
            report="results/prune/{model}/{method}/{sparsity}/report.json",
        params:
            code=PRUNE_CODE,
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model),
            shared=lambda w, input: f"--shared {input.shared}" if input.shared else "",
            timing="benchmarks/prune/{model}/{method}/{sparsity}.json",
            cfg=cfg("seed", "device", "dtype", "protocol", "sinks", "prune"),
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
        code=source_hash("sinkprune.prune.protocol_diff", entry="sinkprune.prune.__main__"),
        config=CONFIGFILE,
        model=lambda w: model_dir(w.model),
        cfg=cfg("seed", "device", "dtype", "sinks", "prune"),
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
