# Sinks stage: received attention mass along each model's trajectories (trained and untrained),
# then statistics with controls, the claim check and the sinks table.


# Mini: one job per model computes every trajectory kind of its trained and untrained states
# (start-up costs more than a tiny model's trajectories): noised and generated for a DLM,
# decoding prefixes for an AR model (second rule). Paper: one job per model × state × kind,
# each within its own runtime.
if config["scale"] == "mini":

    AR_MODELS = [m for m in MODELS if trajectory_kinds(m) == ["ar_prefix"]]


    rule sink_trajectory:
        priority: PRIORITY["sinks"]
        input:
            models=state_files("results/models/{model}/{state}"),
            calib="results/data/calibration/{model}.pt",
        output:
            [f for state in SINK_STATES for f in (f"results/sinks/{{model}}/{state}/noised.npz",
                                                  f"results/sinks/{{model}}/{state}/generate.npz")],
        params:
            **stage(
                "sinkprune.models",
                "sinkprune.device",
                "sinkprune.sinks.settings",
                "sinkprune.sinks.store",
                "sinkprune.sinks.trajectory",
                "sinkprune.config",
                entry="sinkprune.sinks.__main__",
            ),
            config=CONFIGFILE,
            models=lambda w, input: " ".join(f"--model {m}" for m in input.models),
            kinds=lambda w: trajectory_kinds(w.model),
        wildcard_constraints:
            model="|".join(map(re.escape, sorted(set(MODELS) - set(AR_MODELS)))) or "NONE",
        threads: config["threads"]
        resources:
            **resources_for("sink_trajectory"),
        log:
            "logs/sinks/{model}.log",
        benchmark:
            "benchmarks/sinks/{model}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune sinks trajectory --config {params.config} {params.models} "
            "--calib {input.calib} --kind {params.kinds} --out {output} > {log} 2>&1"


    use rule sink_trajectory as sink_trajectory_ar with:
        output:
            state_files("results/sinks/{model}/{state}/ar_prefix.npz"),
        wildcard_constraints:
            model="|".join(map(re.escape, AR_MODELS)) or "NONE",

else:

    rule sink_trajectory:
        priority: PRIORITY["sinks"]
        input:
            model=lambda w: model_input(w.model, w.state),
            calib="results/data/calibration/{model}.pt",
        output:
            "results/sinks/{model}/{state}/{kind}.npz",
        params:
            **stage(
                "sinkprune.models",
                "sinkprune.device",
                "sinkprune.sinks.settings",
                "sinkprune.sinks.store",
                "sinkprune.sinks.trajectory",
                "sinkprune.config",
                entry="sinkprune.sinks.__main__",
            ),
            config=CONFIGFILE,
            model=lambda w: model_dir(w.model, w.state),
        wildcard_constraints:
            kind="noised|generate|ar_prefix",
        threads: config["threads"]
        resources:
            **resources_for("sink_trajectory"),
        log:
            "logs/sinks/{model}/{state}/{kind}.log",
        benchmark:
            "benchmarks/sinks/{model}/{state}/{kind}.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune sinks trajectory --config {params.config} --model {params.model} "
            "--calib {input.calib} --kind {wildcards.kind} --out {output} > {log} 2>&1"


rule sink_summary:
    priority: PRIORITY["sinks"]
    input:
        trajectories=sink_trajectories(),
        controls=control_trajectories(),
    output:
        table=report("results/tables/sinks.csv", caption="../workflow/report/sinks_table.rst", category="Sinks"),
        tex="paper/tables/sinks.tex",
        claim="results/claims/sink_variance.json",
    params:
        **stage(
            "sinkprune.sinks.claim",
            "sinkprune.sinks.settings",
            "sinkprune.sinks.summary",
            "sinkprune.config",
            entry="sinkprune.sinks.__main__",
        ),
        config=CONFIGFILE,
    resources:
        **resources_for("sink_summary"),
    log:
        "logs/sinks/summary.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune sinks summarize --config {params.config} --inputs {input.trajectories} "
        "--controls {input.controls} --table {output.table} "
        "--tex {output.tex} --claim {output.claim} > {log} 2>&1"
