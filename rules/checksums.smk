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


# Read once at DAG build: as params they make the rule rerun exactly when the commit, the package
# versions or the config change (Snakemake's params rerun trigger), and never otherwise.
from sinkprune.provenance import git_state as _git_state, package_versions as _package_versions

PROVENANCE_REPO = workflow.basedir


rule provenance:
    """Package versions, config sha256, git commit and Python version; no timestamps."""
    input:
        CONFIGFILE,
    output:
        "results/provenance.json",
    params:
        code=source_hash("sinkprune.provenance"),
        repo=lambda w: PROVENANCE_REPO,
        git=json.dumps(_git_state(PROVENANCE_REPO), sort_keys=True),
        packages=json.dumps(_package_versions(), sort_keys=True),
    resources:
        **resources_for("checksums"),
    log:
        "logs/checksums/provenance.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune provenance --config {input} --repo {params.repo} --out {output} > {log} 2>&1"
