# Tables stage: every evaluation and prune report → one tidy CSV and its LaTeX rendering.


rule main_table:
    input:
        evals=eval_files(),
        reports=prune_reports(),
    output:
        csv=report("results/tables/main.csv", caption="../workflow/report/main_table.rst", category="Pruning"),
        tex="paper/tables/main.tex",
    params:
        **stage("sinkprune.tables"),
        config=CONFIGFILE,
    resources:
        **resources_for("main_table"),
    log:
        "logs/tables/main.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune tables main --config {params.config} --evals {input.evals} "
        "--reports {input.reports} --csv {output.csv} --tex {output.tex} > {log} 2>&1"
