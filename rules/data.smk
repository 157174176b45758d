# Data stage: offline corpus → tokenizer → training streams, calibration batch.


rule corpus:
    priority: PRIORITY["train"]
    output:
        train="results/data/corpus.txt",
        heldout="results/data/corpus_heldout.txt",
        provenance="results/data/corpus.json",
    params:
        **stage("sinkprune.data.corpus", entry="sinkprune.data.__main__"),
        config=CONFIGFILE,
    resources:
        **resources_for("corpus"),
    log:
        "logs/data/corpus.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune data corpus --config {params.config} --train {output.train} "
        "--heldout {output.heldout} --provenance {output.provenance} > {log} 2>&1"


rule tokenizer:
    priority: PRIORITY["train"]
    input:
        train="results/data/corpus.txt",
    output:
        directory("results/data/tokenizer"),
    params:
        **stage("sinkprune.data.tokenizer", entry="sinkprune.data.__main__"),
        config=CONFIGFILE,
    resources:
        **resources_for("tokenizer"),
    log:
        "logs/data/tokenizer.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune data tokenizer --config {params.config} --train {input.train} --out {output} > {log} 2>&1"


rule streams:
    priority: PRIORITY["train"]
    input:
        tokenizer="results/data/tokenizer",
        train="results/data/corpus.txt",
    output:
        "results/data/streams.pt",
    params:
        **stage(
            "sinkprune.data.streams",
            "sinkprune.data.skills",
            "sinkprune.data.tokenizer",
            entry="sinkprune.data.__main__",
        ),
        config=CONFIGFILE,
    resources:
        **resources_for("streams"),
    log:
        "logs/data/streams.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune data streams --config {params.config} --tokenizer {input.tokenizer} "
        "--train {input.train} --out {output} > {log} 2>&1"


rule calibration:
    priority: PRIORITY["prune"]
    # One batch per model: at paper scale each family has its own tokenizer.
    input:
        tokenizer=lambda w: [tokenizer_source(w.model)] if is_trained(w.model) else [PREFLIGHT],
        heldout=lambda w: ["results/data/corpus_heldout.txt"] if is_trained(w.model) else [],
    output:
        "results/data/calibration/{model}.pt",
    params:
        **stage(
            "sinkprune.data.streams",
            "sinkprune.data.tokenizer",
            entry="sinkprune.data.__main__",
        ),
        config=CONFIGFILE,
        tokenizer=lambda w: tokenizer_source(w.model),
        heldout=lambda w, input: f"--heldout {input.heldout}" if input.heldout else "",
    resources:
        **resources_for("calibration"),
    log:
        "logs/data/calibration/{model}.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune data calibration --config {params.config} --tokenizer {params.tokenizer} "
        "{params.heldout} --out {output} > {log} 2>&1"

