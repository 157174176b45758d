# Download: every model, tokenizer and dataset the config needs, into the Hugging Face cache.
# Run where there is network (a login node): `snakemake download --configfile config/paper.yaml`.
# Compute jobs read that cache offline; `snakemake preflight` checks it is complete.


rule download:
    params:
        config=CONFIGFILE,
    log:
        "logs/download.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune download --config {params.config} 2>&1 | tee {log}"
