# Models stage: train the mini zoo (paper scale resolves hub ids instead; see rules/common.smk).


def init_checkpoint(wildcards):
    parent = config["models"][wildcards.model]["train"].get("init_from")
    return [f"results/models/{parent}/trained"] if parent else []


rule train_model:
    input:
        tokenizer="results/data/tokenizer",
        streams="results/data/streams.pt",
        init=init_checkpoint,
    output:
        trained=directory("results/models/{model}/trained"),
        untrained=directory("results/models/{model}/untrained"),
        log="results/models/{model}/train_log.json",
    params:
        cfg=lambda w: json.dumps({"seed": config["seed"], "seq_len": config["data"]["seq_len"],
                                  "model": config["models"][w.model]}, sort_keys=True),
        init=lambda w, input: f"--init {input.init}" if input.init else "",
    threads: config["threads"]
    resources:
        mem_mb=res("train_model", "mem_mb"),
        runtime=res("train_model", "runtime"),
        gpu=res("train_model", "gpu"),
    log:
        "logs/models/{model}.log",
    benchmark:
        "benchmarks/models/{model}.tsv"
    conda:
        "../environment.yml"
    shell:
        "{PY} sinkprune.models train --config {CONFIGFILE} --model {wildcards.model} "
        "--tokenizer {input.tokenizer} --streams {input.streams} {params.init} "
        "--trained {output.trained} --untrained {output.untrained} --log {output.log} > {log} 2>&1"
