# Figures stage: one rule per figure, each needing only its own table (PDF + PNG).

# Package source the three sink figures run (a param: editing it reruns them).
SINK_FIGURES_CODE = source_hash("sinkprune.figures.sinks", entry="sinkprune.figures.__main__")


rule fig_sink_variance:
    priority: PRIORITY["sinks"]
    input:
        "results/tables/sinks.csv",
    output:
        pdf=report("figures/sink_variance.pdf", caption="../workflow/report/sink_variance.rst", category="Sinks"),
        png="figures/sink_variance.png",
    params:
        code=SINK_FIGURES_CODE,
    resources:
        **resources_for("figures"),
    log:
        "logs/figures/sink_variance.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune figures sink_variance --table {input} --out {output.pdf} > {log} 2>&1"


rule fig_sink_layers:
    priority: PRIORITY["sinks"]
    input:
        "results/tables/sinks.csv",
    output:
        pdf=report("figures/sink_layers.pdf", caption="../workflow/report/sink_layers.rst", category="Sinks"),
        png="figures/sink_layers.png",
    params:
        code=SINK_FIGURES_CODE,
    resources:
        **resources_for("figures"),
    log:
        "logs/figures/sink_layers.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune figures sink_layers --table {input} --out {output.pdf} > {log} 2>&1"


rule fig_sink_heatmap:
    priority: PRIORITY["sinks"]
    input:
        trained=heatmap_input("trained"),
        untrained=heatmap_input("untrained"),
    output:
        pdf=report("figures/sink_heatmap/{model}.pdf", caption="../workflow/report/sink_heatmap.rst", category="Sinks"),
        png="figures/sink_heatmap/{model}.png",
        gif="figures/sink_heatmap/{model}.gif",
    params:
        code=SINK_FIGURES_CODE,
    resources:
        **resources_for("figures"),
    log:
        "logs/figures/sink_heatmap/{model}.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune figures sink_heatmap --trained {input.trained} --untrained {input.untrained} "
        "--out {output.pdf} > {log} 2>&1"


rule fig_accuracy:
    input:
        "results/tables/main.csv",
    output:
        pdf=report("figures/accuracy_vs_sparsity.pdf", caption="../workflow/report/accuracy.rst", category="Pruning"),
        png="figures/accuracy_vs_sparsity.png",
    params:
        code=source_hash("sinkprune.figures.accuracy", entry="sinkprune.figures.__main__"),
    resources:
        **resources_for("figures"),
    log:
        "logs/figures/accuracy.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune figures accuracy --table {input} --out {output.pdf} > {log} 2>&1"
