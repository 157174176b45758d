# Provenance: package versions, config sha256, git commit and Python version of a run
# (results/provenance.json, listed in the manifest).  Logic: sinkprune/provenance.py.

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
        **resources_for("checksums"),  # config resources.checksums covers manifest, verify and provenance
    log:
        "logs/provenance/provenance.log",
    localrule: True
    conda:
        "../environment.yml"
    shell:
        "sinkprune provenance --config {input} --repo {params.repo} --out {output} > {log} 2>&1"
