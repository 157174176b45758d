# Checksums: a SHA-256 manifest of every file under results/ and a `verify` target that names any
# file whose bytes changed since.  Logic: sinkprune/checksums.py.  See docs/reproducibility.md.

# Package source of the manifest and verify rules (a param: editing it reruns them).
CHECKSUMS_CODE = source_hash("sinkprune.checksums")


rule manifest:
    """sha256 of every file under results/ (except the manifest), sorted, `sha256sum -c` format."""
    input:
        # Defined in rules/common.smk: every final result file, so the manifest is written last.
        manifest_inputs(),
    output:
        "results/manifest.sha256",
    params:
        code=CHECKSUMS_CODE,
    resources:
        **resources_for("checksums"),
    log:
        "logs/checksums/manifest.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune checksums manifest --root results --out {output} > {log} 2>&1"


rule verify:
    """Recompute every hash in results/manifest.sha256; fail naming each changed/missing/new file.

    Deliberately has no input and no output: with the manifest as input Snakemake would first
    *rebuild* the manifest from the changed files (their mtime is newer) and the check would pass
    vacuously.  A rule without outputs runs every time it is asked for.
    """
    params:
        code=CHECKSUMS_CODE,
    resources:
        **resources_for("checksums"),
    log:
        "logs/checksums/verify.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune checksums verify --manifest results/manifest.sha256 2>&1 | tee {log}"

