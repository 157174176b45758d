# Paper: paper/main.pdf from paper/main.tex, the generated tables and the figures.
# Needs pdflatex (Debian: `sudo bash workflow/install-tex.sh`); without it the rule fails saying so.


rule paper_pdf:
    input:
        tex="paper/main.tex",
        tables=["paper/tables/main.tex", "paper/tables/sinks.tex"],
        figures=["figures/sink_variance.pdf", "figures/accuracy_vs_sparsity.pdf"]
        + [f"figures/sink_heatmap/{m}.pdf" for m in MODELS],
    output:
        "paper/main.pdf",
    params:
        # main.tex loops over these to include one heatmap per model.
        models=",".join(MODELS),
    resources:
        **resources_for("paper_pdf"),
    log:
        "logs/paper/main.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        # Two passes resolve references; SOURCE_DATE_EPOCH + FORCE_SOURCE_DATE make pdfTeX write
        # fixed dates and a fixed /ID, so the same inputs give the same PDF bytes.
        r"""
        if ! command -v pdflatex >/dev/null 2>&1; then
            echo "paper_pdf: pdflatex not found; install TeX with: sudo bash workflow/install-tex.sh" | tee {log} >&2
            exit 1
        fi
        : > {log}
        cd paper && mkdir -p build
        for pass in 1 2; do
            SOURCE_DATE_EPOCH=0 FORCE_SOURCE_DATE=1 pdflatex -interaction=nonstopmode -halt-on-error \
                -jobname=main -output-directory=build \
                '\def\sinkmodels{{{params.models}}}\input{{main.tex}}' >> ../{log} 2>&1 \
                || {{ echo "paper_pdf: pdflatex failed, see {log}" >&2; tail -n 25 ../{log} >&2; exit 1; }}
        done
        mv build/main.pdf main.pdf
        """
