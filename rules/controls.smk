# Controls stage: planted positive controls (docs/controls.md). Models of the mini architecture
# with sinks written into their weights go through the real sink test and pruning code: the
# planted and untrained sink pairs (read by the claim JSON), the sink test's detection power and
# its figure, and the planted pruning control. CPU only, at every scale.

CONTROLS_STAGE = stage(
    "sinkprune.controls",
    "sinkprune.models",
    "sinkprune.sinks",
    "sinkprune.config",
    entry="sinkprune.controls.__main__",
)


if "controls" in config:  # absent: no planted controls

    rule control_sink_pairs:
        priority: PRIORITY["controls"]
        output:
            control_trajectories(),
        params:
            **CONTROLS_STAGE,
            config=CONFIGFILE,
            # results/controls/sinks: the directory above each group's directory.
            outdir=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
        threads: config["threads"]
        resources:
            **resources_for("controls"),
        log:
            "logs/controls/sink_pairs.log",
        benchmark:
            "benchmarks/controls/sink_pairs.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune controls sink-pairs --config {params.config} --outdir {params.outdir} > {log} 2>&1"


    rule control_sink_power:
        priority: PRIORITY["controls"]
        output:
            table="results/controls/sink_power.csv",
            summary="results/controls/sink_power.json",
        params:
            **CONTROLS_STAGE,
            config=CONFIGFILE,
        threads: config["threads"]
        resources:
            **resources_for("controls"),
        log:
            "logs/controls/sink_power.log",
        benchmark:
            "benchmarks/controls/sink_power.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune controls power --config {params.config} --table {output.table} "
            "--summary {output.summary} > {log} 2>&1"


    rule control_pruning:
        priority: PRIORITY["controls"]
        output:
            table="results/controls/pruning.csv",
            summary="results/controls/pruning.json",
        params:
            **stage("sinkprune.controls", "sinkprune.models", "sinkprune.prune", "sinkprune.sinks",
                    "sinkprune.config", entry="sinkprune.controls.__main__"),
            config=CONFIGFILE,
        threads: config["threads"]
        resources:
            **resources_for("controls"),
        log:
            "logs/controls/pruning.log",
        benchmark:
            "benchmarks/controls/pruning.tsv"
        conda:
            "../environment.yml"
        shell:
            "sinkprune controls pruning --config {params.config} --table {output.table} "
            "--summary {output.summary} > {log} 2>&1"


    rule fig_sink_power:
        priority: PRIORITY["sinks"]
        input:
            power="results/controls/sink_power.csv",
            summary="results/controls/sink_power.json",
            claim="results/claims/sink_variance.json",
        output:
            pdf=report("figures/sink_power.pdf", caption="../workflow/report/sink_power.rst", category="Controls"),
            png="figures/sink_power.png",
        params:
            code=source_hash("sinkprune.figures.power", entry="sinkprune.figures.__main__"),
        resources:
            **resources_for("figures"),
        log:
            "logs/figures/sink_power.log",
        conda:
            "../environment.yml"
        shell:
            "sinkprune figures sink_power --table {input.power} --summary {input.summary} "
            "--claim {input.claim} --out {output.pdf} > {log} 2>&1"
