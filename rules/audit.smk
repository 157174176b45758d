# Audit: our results beside paper/published.csv, and verdicts on the paper's claims at this
# scale (results/audit.md + .html).  Logic: sinkprune/audit/.  `snakemake audit`.



rule audit:
    input:
        # Beside the Snakefile, so the DAG also runs in another working directory (-d).
        published=os.path.join(workflow.basedir, "paper", "published.csv"),
        main="results/tables/main.csv",
        claims="results/claims/sink_variance.json",
        protocol_diff=protocol_diff_files,
        controls=control_results(),
    output:
        md="results/audit.md",
        html=report("results/audit.html", caption="../workflow/report/audit.rst", category="Audit"),
    params:
        **stage("sinkprune.audit.__main__"),
        config=CONFIGFILE,
    resources:
        **resources_for("audit"),
    log:
        "logs/audit/audit.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune audit --config {params.config} --published {input.published} --main {input.main} "
        "--claims {input.claims} --controls {input.controls} --protocol-diff {input.protocol_diff} "
        "--out {output.md} --html {output.html} > {log} 2>&1"
