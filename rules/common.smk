# Config → file lists. Every expansion of models, methods, sparsities and tasks lives here once.
import json
import os
import re
import sys

from sinkprune.codehash import code_hash, config_sections
from sinkprune.config import ConfigError, config_schema, validate_config
from sinkprune.evaluate.groups import eval_job_runs
from sinkprune.prune.names import NEEDS_SHARED
from sinkprune.sinks.store import control_group, untrained_index, untrained_state

validate_config(config, source="config")
if workflow.config_settings.config:
    raise ConfigError(
        "command-line --config overrides are not supported: stages read the config file itself. "
        "Copy config/mini.yaml, edit it, and pass it with --configfile."
    )
if len(workflow.configfiles) != 1:
    raise ConfigError(f"pass exactly one --configfile (got {list(workflow.configfiles)})")
# Resolved through symlinks: the slurm profile names config/paper.yaml through a link, and the
# path is a rerun-triggering param, so both spellings must give the same string.
CONFIGFILE = os.path.realpath(workflow.configfiles[0])
# Rules run the interpreter that runs Snakemake (the project's venv), unless Snakemake itself
# deploys the conda environment of each rule (--sdm conda), where `python` is that env's.
_CONDA = any("conda" in str(m).lower() for m in workflow.deployment_settings.deployment_method)
# Every rule calls the one command line, `sinkprune <stage> ...`, as a user would. The console
# script of the interpreter running Snakemake (the project's venv) comes first on PATH, so an
# inactive venv works; with --sdm conda each rule's environment provides its own.
if not _CONDA:
    shell.prefix(f'set -euo pipefail; PATH="{os.path.dirname(sys.executable)}:$PATH"; ')  # replaces the default prefix

MODELS = list(config["models"])
TRAINED = [m for m in MODELS if "train" in config["models"][m]]
PRUNED = list(config["prune"]["models"])
METHODS = list(config["prune"]["methods"])
TASKS = list(config["eval"]["tasks"])
from sinkprune.prune.names import STRUCTURED_SET as STRUCTURED
# Untrained initialisations per architecture (index 0: the model's own init; docs/method.md §3).
UNTRAINED_SEEDS = int(config["sinks"].get("untrained_seeds", 1))
UNTRAINED_STATES = [untrained_state(i) for i in range(UNTRAINED_SEEDS)]
SINK_STATES = ["trained"] + UNTRAINED_STATES  # the states whose sink trajectories are computed


def sparsities(method):
    """Sparsity strings a method runs at (structured methods use their own ratios)."""
    return group_sparsities(structured=method in STRUCTURED)


def group_sparsities(structured=False):
    """Sparsity strings of the unstructured methods, or the structured methods' channel ratios."""
    if structured:
        return list(config["prune"].get("structured_ratios", []))
    return list(config["prune"]["sparsities"])


def pruned_runs():
    """(model, method, sparsity) of every pruned model of the config."""
    return [(m, meth, s) for m in PRUNED for meth in METHODS for s in sparsities(meth)]


def is_trained(model):
    """True for mini models trained in the DAG; False for hub ids / local paths (paper scale)."""
    return "train" in config["models"][model]


def tokenizer_source(model):
    """Our trained tokenizer (mini) or the checkpoint's own (paper)."""
    return "results/data/tokenizer" if is_trained(model) else config["models"][model]["path"]


def model_dir(model, state="trained"):
    """Checkpoint of a model: trained in the DAG, or a hub id / local path (paper scale)."""
    spec = config["models"][model]
    if "train" in spec or state != "trained":
        return f"results/models/{model}/{state}"
    return spec["path"]


# Marker of a passed preflight (rules/preflight.smk): every job that reads a hub checkpoint or
# dataset waits for it, so a paper run checks cache, GPU and disk before its first GPU job.
PREFLIGHT = "logs/preflight/passed"


def model_input(model, state="trained"):
    """Input files a rule needs for a model checkpoint; a hub id needs the passed preflight."""
    spec = config["models"][model]
    return [model_dir(model, state)] if ("train" in spec or state != "trained") else [PREFLIGHT]


# Scheduling order when jobs compete for cores (Snakemake runs higher priorities first): the
# training chain (and the task files) first, as it is the critical path; the planted controls,
# which need no trained model, on a core the chain leaves free; then pruning, the sink
# trajectories with their summary and figures, and the evaluations last, so that the run ends
# with them and the short main table, accuracy figure and audit after them.
PRIORITY = {"train": 30, "controls": 25, "prune": 20, "sinks": 15, "evaluate": 10}


# Top-level config sections, in schema order: the keys a stage's code may look up.
CONFIG_SECTIONS = tuple(config_schema()["properties"])


def stage(*modules, entry=None, per_model=False):
    """The rerun triggers of a rule, as params: ``code``, the hash of the source it runs, and
    ``cfg``, the values of every config section that source looks up by name
    (sinkprune.codehash.config_sections), so neither is a hand-kept list. ``per_model``: the
    rule reads only the ``models`` entry of its ``{model}`` wildcard, so only that entry counts."""
    sections = config_sections(*modules, entry=entry, root=workflow.basedir, sections=CONFIG_SECTIONS)
    values = {k: config.get(k) for k in sections}
    if per_model:
        cfg = lambda w: json.dumps(values | {"models": config["models"][w.model]}, sort_keys=True)
    else:
        cfg = json.dumps(values, sort_keys=True)
    return {"code": source_hash(*modules, entry=entry), "cfg": cfg}


def source_hash(*modules, entry=None):
    """Hash of the package source a stage runs. Passed as a param, so editing that code reruns
    the stage (Snakemake's own code trigger skips shell rules; see sinkprune.codehash)."""
    return code_hash(*modules, entry=entry, root=workflow.basedir)


def res(rule_name, key, default=None):
    """Resource of a rule from config 'resources.<rule>' falling back to 'resources.default'."""
    table = config.get("resources", {})
    value = table.get(rule_name, {}).get(key, table.get("default", {}).get(key, default))
    return value


# Resource names read by snakemake-executor-plugin-slurm 2.8 (and, for mem_mb / runtime / gpu,
# by local scheduling); each is taken from config 'resources.<rule>' or 'resources.default'.
RESOURCE_KEYS = ("mem_mb", "runtime", "gpu", "cpus_per_task", "slurm_partition", "slurm_account", "slurm_extra")


def resources_for(rule_name):
    """Every resource one rule requests, from the config; used as `**resources_for(name)`."""
    values = {key: res(rule_name, key) for key in RESOURCE_KEYS}
    return {key: value for key, value in values.items() if value is not None}


# Job grouping (defaults as in the schema). Mini: one prune and one evaluation job per model ×
# method, since start-up costs more than the work; paper: one prune job per sparsity and one
# evaluation job per pruned model × task, merged into one JSON per pruned model.
GROUP_SPARSITIES = bool(config["prune"].get("group_sparsities", True))
EVAL_SPLIT = config["eval"].get("split", "grouped")
# {task: K}: with eval.split task, such a task is evaluated as K jobs (docs i::K), merged by merge_eval.
EVAL_SHARDS = {t: int(k) for t, k in (config["eval"].get("shards") or {}).items() if int(k) > 1}
_unknown_shards = sorted(set(EVAL_SHARDS) - set(config["eval"]["tasks"]))
if _unknown_shards:
    raise ValueError(f"config eval.shards names task(s) not in eval.tasks: {', '.join(_unknown_shards)}")
if EVAL_SHARDS and EVAL_SPLIT != "task":
    raise ValueError("config eval.shards needs eval.split: task (one job per task or shard)")


def shared_stats_input(wildcards):
    """shared.pt for the methods that read it; baselines do not wait for the sink statistics."""
    return [f"results/prune/{wildcards.model}/shared.pt"] if wildcards.method in NEEDS_SHARED else []


def eval_files():
    dense = [f"results/eval/{m}/dense/0.00.json" for m in PRUNED]
    return dense + [f"results/eval/{m}/{meth}/{s}.json" for m, meth, s in pruned_runs()]


def perplexity_files():
    """The release's perplexity of every dense and pruned model (rules/eval.smk)."""
    dense = [f"results/eval/{m}/dense/0.00/perplexity.json" for m in PRUNED]
    return dense + [f"results/eval/{m}/{meth}/{s}/perplexity.json" for m, meth, s in pruned_runs()]


def protocol_diff_files(wildcards=None):
    """results/prune/{model}/protocol_diff.csv of every pruned model (rule protocol_diff)."""
    return [f"results/prune/{m}/protocol_diff.csv" for m in PRUNED]


def prune_reports():
    return [f"results/prune/{m}/{meth}/{s}/report.json" for m, meth, s in pruned_runs()]


def trajectory_kinds(model):
    """Trajectory kinds of a model: decoding prefixes (AR) or the noised and generated DLM ones."""
    return ["ar_prefix"] if config["models"][model]["kind"] == "ar" else ["noised", "generate"]


def sink_trajectories():
    """Every sink trajectory file: each model, trained and untrained, each kind of trajectory."""
    out = []
    for m in MODELS:
        out += [f"results/sinks/{m}/{state}/{k}.npz" for state in SINK_STATES for k in trajectory_kinds(m)]
    return out


def control_trajectories():
    """Planted / untrained sink pairs and their control (rules/controls.smk); none without `controls:`."""
    if "controls" not in config:
        return []
    groups = [control_group(i) for i in range(UNTRAINED_SEEDS)] + ["planted", "untrained"]
    return [f"results/controls/sinks/{g}/{s}.npz" for g in groups for s in ("dlm", "ar")]


def control_results():
    """Result files of the planted controls the audit reads; none without `controls:`."""
    return [t for t in control_targets() if t.startswith("results/")]


def control_targets():
    """Results and figure of the planted controls (docs/controls.md); none without `controls:`."""
    if "controls" not in config:
        return []
    return ["results/controls/sink_power.json", "results/controls/pruning.json", "figures/sink_power.pdf"]


def final_targets():
    """Every table, figure and claim `snakemake all` promises."""
    return control_targets() + [
        "results/tables/main.csv",
        "paper/tables/main.tex",
        "results/tables/sinks.csv",
        "paper/tables/sinks.tex",
        "results/claims/sink_variance.json",
        "figures/sink_variance.pdf",
        "figures/sink_layers.pdf",
        "figures/accuracy_vs_sparsity.pdf",
        "results/provenance.json",
        "results/audit.md",
        "results/audit.html",
    ] + [f"figures/sink_heatmap/{m}.pdf" for m in MODELS] + protocol_diff_files() + perplexity_files()


def manifest_inputs():
    """Every result file listed in the sha256 manifest."""
    return ([t for t in final_targets() if t.startswith("results/")] + eval_files() + prune_reports()
            + perplexity_files())


def init_checkpoint(wildcards):
    parent = config["models"][wildcards.model]["train"].get("init_from")
    return [f"results/models/{parent}/trained"] if parent else []


def eval_task_files(model, method, sparsity):
    """Per-task evaluation results of one model (eval.split: task), merged into its eval JSON;
    a task in eval.shards as its K shard results."""
    base = f"results/eval_tasks/{model}/{method}/{sparsity}"
    return [f"{base}/{task}.json" if task not in EVAL_SHARDS else f"{base}/{task}.shard{i}-of-{EVAL_SHARDS[task]}.json"
            for task in TASKS for i in range(EVAL_SHARDS.get(task, 1))]


def eval_checkpoint(wildcards):
    """The checkpoint one per-task evaluation job scores: the dense model or one pruned model."""
    if wildcards.method == "dense":
        return model_input(wildcards.model)
    return [f"results/prune/{wildcards.model}/{wildcards.method}/{wildcards.sparsity}/model"]


def eval_model_arg(wildcards, input):
    """--model of a per-task evaluation job (a hub id for a dense paper model)."""
    return model_dir(wildcards.model) if wildcards.method == "dense" else input.model[0]


def eval_group(pattern, part, dense=True):
    """``pattern`` ({method}, {sparsity}; {model} kept) for every run of grouped evaluation job
    ``part`` (sinkprune/evaluate/groups.py), in order; without the dense model when ``dense`` is false."""
    return [pattern.replace("{method}", meth).replace("{sparsity}", s)
            for meth, s in eval_job_runs(config, part) if dense or meth != "dense"]


def state_files(pattern):
    """``pattern`` ({model}, {state}) for every state of the model: trained, then each untrained seed."""
    return [pattern.replace("{state}", state) for state in SINK_STATES]


def heatmap_input(state):
    """The trajectory a model's heatmap shows: AR decoding prefixes or the noised DLM trajectory."""

    def files(wildcards):
        kind = "ar_prefix" if config["models"][wildcards.model]["kind"] == "ar" else "noised"
        return f"results/sinks/{wildcards.model}/{state}/{kind}.npz"

    return files


# Mini tasks are built by the DAG (rule tasks); the paper's benchmarks ship with lm-eval.
TASK_DIRS = ["results/data/tasks"] if config["scale"] == "mini" else []
