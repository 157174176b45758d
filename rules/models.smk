# Models stage: train the mini zoo (paper scale resolves hub ids instead; see rules/common.smk).


rule train_model:
    priority: PRIORITY["train"]
    wildcard_constraints:
        model="|".join(re.escape(m) for m in TRAINED) or "NO_TRAINED_MODELS",
    input:
        tokenizer="results/data/tokenizer",
        streams="results/data/streams.pt",
        init=init_checkpoint,
    output:
        trained=directory("results/models/{model}/trained"),
        untrained=[directory(f"results/models/{{model}}/{state}") for state in UNTRAINED_STATES],
        log="results/models/{model}/train_log.json",
    params:
        **stage(
            "sinkprune.models",
            "sinkprune.models.train",
            "sinkprune.data.tokenizer",
            "sinkprune.config",
            entry="sinkprune.models.__main__",
            per_model=True,
        ),
        config=CONFIGFILE,
        init=lambda w, input: f"--init {input.init}" if input.init else "",
    threads: config["threads"]
    resources:
        **resources_for("train_model"),
    log:
        "logs/models/{model}.log",
    benchmark:
        "benchmarks/models/{model}.tsv"
    conda:
        "../environment.yml"
    shell:
        "sinkprune models train --config {params.config} --model {wildcards.model} "
        "--tokenizer {input.tokenizer} --streams {input.streams} {params.init} "
        "--trained {output.trained} --untrained {output.untrained} --log {output.log} > {log} 2>&1"


rule init_untrained:
    # Paper scale: the untrained controls of a hub checkpoint are its architecture with random
    # weights (same config.json, one seeded init per seed index), kept only while the sink
    # statistics need them. Mini models get theirs from train_model.
    input:
        PREFLIGHT,
    output:
        temp(directory("results/models/{model}/{state}")),
    params:
        **stage(
            "sinkprune.models",
            "sinkprune.models.checkpoint",
            "sinkprune.config",
            "sinkprune.device",
            entry="sinkprune.models.__main__",
            per_model=True,
        ),
        config=CONFIGFILE,
        index=lambda w: untrained_index(w.state),
    wildcard_constraints:
        model="|".join(re.escape(m) for m in MODELS if not is_trained(m)) or "NO_HUB_MODELS",
        state="untrained(-s[1-9][0-9]*)?",
    threads: config["threads"]
    resources:
        **resources_for("init_untrained"),
    log:
        "logs/models/{model}.{state}.log",
    conda:
        "../environment.yml"
    shell:
        "sinkprune models init --config {params.config} --model {wildcards.model} --seed-index {params.index} "
        "--out {output} > {log} 2>&1"
