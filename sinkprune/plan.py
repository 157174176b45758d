"""`snakemake plan`: every job of the DAG with its estimated cost, checked against its resources.

    sinkprune plan --config config/paper.yaml --out benchmarks/plan.tsv

For each job of `snakemake all` (the same jobs the rule files build; tests compare the two):
FLOPs, run time (GPU-hours for GPU jobs), peak GPU memory, peak host memory and the disk its
outputs take. A job whose estimate exceeds its runtime, its ``mem_mb`` or the GPU's memory is
flagged, and the command exits non-zero. ``peak_disk_bytes(config)`` is the disk a whole run
needs (used by preflight). Formulas and sources: docs/paper-scale-jobs.md.

Written here because no library estimates a Snakemake job's cost from model and token counts.
All numbers are estimates from sizes and counts, never measurements; the throughput they assume
is config ``plan.*``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sinkprune.prune.names import NEEDS_SHARED, STRUCTURED
from sinkprune.stage_parser import stage_parser

GB = 1e9
# Cost-model defaults (schema defaults of `plan.*`; docs/paper-scale-jobs.md says why).
PLAN_DEFAULTS = {"gpu_tflops": 150.0, "cpu_gflops": 20.0, "gpu_mem_gb": 80.0, "io_gbps": 0.5,
                 "job_overhead_s": 120.0, "host_base_gb": 4.0}
CHEAP_HOST_BYTES = 1 * GB
DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}


@dataclass(frozen=True)
class Arch:
    """Sizes of a decoder-only transformer (what its config.json says)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool
    qkv_bias: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def block_params(self) -> int:
        """Parameters of one block: q, k, v, o, gate, up, down and two RMSNorm weights."""
        kv = self.kv_heads * self.head_dim
        attn = 2 * self.hidden * self.hidden + 2 * self.hidden * kv
        bias = (self.hidden + 2 * kv) if self.qkv_bias else 0
        return attn + bias + 3 * self.hidden * self.intermediate + 2 * self.hidden

    def params(self) -> int:
        """Every parameter: embeddings, blocks, final norm and (untied) head."""
        head = 0 if self.tied else self.vocab * self.hidden
        return self.vocab * self.hidden + self.layers * self.block_params() + self.hidden + head

    def forward_flops(self, seq: float, head_rows: float | None = None) -> float:
        """FLOPs of one forward pass over ``seq`` tokens: 2 per weight per token in the blocks,
        QKᵀ and AV over all ``seq`` keys (bidirectional: every query sees every key), and the
        output head on ``head_rows`` positions (default: all)."""
        head_rows = seq if head_rows is None else head_rows
        return (2 * seq * self.layers * self.block_params() + 4 * self.layers * seq * seq * self.hidden
                + 2 * head_rows * self.vocab * self.hidden)

    def mlp_params(self) -> int:
        return 3 * self.hidden * self.intermediate * self.layers


# Sizes of the checkpoints the paper config names, from each repository's config.json on the
# Hugging Face hub (checked against docs/families.md): used when a checkpoint is neither a local
# directory nor in the local Hugging Face cache (the plan must work before `snakemake download`).
KNOWN_ARCHITECTURES: dict[str, Arch] = {
    # LLaDA-8B config.json: d_model 4096, n_layers 32, n_heads 32, n_kv_heads 32,
    # mlp_hidden_size 12288, embedding_size 126464, weight_tying false → 8.016 B parameters.
    "GSAI-ML/LLaDA-8B-Base": Arch(4096, 32, 32, 32, 12288, 126464, False),
    "GSAI-ML/LLaDA-1.5": Arch(4096, 32, 32, 32, 12288, 126464, False),
    # MMaDA: LLaDA plus an 8192-entry image codebook (new_vocab_size 134656) → 8.083 B.
    "Gen-Verse/MMaDA-8B-Base": Arch(4096, 32, 32, 32, 12288, 134656, False),
    # Dream-v0 / Qwen2.5-7B: hidden 3584, 28 layers, 28 heads, 4 KV heads, intermediate 18944,
    # vocab 152064, untied, q/k/v bias → 7.616 B.
    "Dream-org/Dream-v0-Base-7B": Arch(3584, 28, 28, 4, 18944, 152064, False, qkv_bias=True),
    "Qwen/Qwen2.5-7B": Arch(3584, 28, 28, 4, 18944, 152064, False, qkv_bias=True),
    # Llama-3.1-8B: hidden 4096, 32 layers, 32 heads, 8 KV heads, intermediate 14336, vocab 128256.
    "meta-llama/Llama-3.1-8B": Arch(4096, 32, 32, 8, 14336, 128256, False),
}


@dataclass(frozen=True)
class TaskCost:
    """Per-document request counts and mean lengths of one lm-eval task (estimates; see below)."""

    docs: int  # documents evaluated (split size; eval.limit caps it)
    options: int  # answer options scored per document (0: generation)
    tokens: int  # mean tokens of one request, context (with the configured shots) + continuation
    continuation: int  # mean tokens of the scored continuation


# Paper benchmarks (lm-eval 0.4.13 task names). docs: the split lm-eval scores (MMLU test 14042
# over 57 subjects; ARC-Challenge test 1172; ARC-Easy test 2376; PIQA validation 1838;
# WinoGrande-xl validation 1267; GSM8K test 1319; HellaSwag validation 10042; GPQA main 448;
# RACE high test 1045). tokens / continuation: estimated mean request lengths with the paper's
# shots (LLaMA-family tokenizers, ≈ 4 characters per token): an estimate, not a count. Replace
# them in config `plan.tasks` with counts from a tokenised dataset when they matter.
PAPER_TASK_COSTS: dict[str, TaskCost] = {
    "mmlu": TaskCost(14042, 4, 620, 1),  # 5-shot; answer letter
    "arc_challenge": TaskCost(1172, 4, 45, 6),
    "arc_easy": TaskCost(2376, 4, 35, 5),
    "piqa": TaskCost(1838, 2, 40, 25),
    "winogrande": TaskCost(1267, 2, 145, 8),  # 5-shot; partial scoring after the blank
    "gsm8k": TaskCost(1319, 0, 760, 0),  # 5-shot prompt; eval.gen_length new tokens
    "hellaswag": TaskCost(10042, 4, 85, 25),
    "gpqa_main_n_shot": TaskCost(448, 4, 1200, 3),  # 5-shot; " (A)"
    "race": TaskCost(1045, 4, 520, 8),
}


@dataclass
class Job:
    """One job of the DAG and its estimated cost."""

    rule: str
    wildcards: str
    stage: str
    resource_key: str
    flops: float = 0.0
    load_bytes: float = 0.0  # read from disk (checkpoints)
    out_bytes: float = 0.0  # written (outputs)
    gpu_mem: float = 0.0
    host_mem: float = 0.0
    temp: bool = False  # outputs removed once their consumers ran
    seconds: float = 0.0
    limits: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        return int(self.limits.get("gpu") or 0)

    @property
    def gpu_hours(self) -> float:
        return self.seconds / 3600 * self.gpus


def plan_settings(config: dict) -> dict[str, float]:
    """``plan.*`` with defaults filled in."""
    section = dict(config.get("plan") or {})
    return {k: float(section.get(k, v)) for k, v in PLAN_DEFAULTS.items()}


def dtype_bytes(config: dict) -> int:
    """Bytes per weight of the run (top-level ``dtype``; default: bf16 paper, fp32 mini)."""
    dtype = str(config.get("dtype") or "").lower()
    if dtype in DTYPE_BYTES:
        return DTYPE_BYTES[dtype]
    return 2 if config.get("scale") == "paper" else 4


def _arch_from_config_json(raw: dict, family: str) -> Arch:
    if family == "llada":
        heads = int(raw["n_heads"])
        return Arch(int(raw["d_model"]), int(raw["n_layers"]), heads, int(raw.get("n_kv_heads") or heads),
                    int(raw["mlp_hidden_size"]), int(raw.get("embedding_size") or raw["vocab_size"]),
                    bool(raw.get("weight_tying", False)))
    heads = int(raw["num_attention_heads"])
    return Arch(int(raw["hidden_size"]), int(raw["num_hidden_layers"]), heads,
                int(raw.get("num_key_value_heads") or heads), int(raw["intermediate_size"]), int(raw["vocab_size"]),
                bool(raw.get("tie_word_embeddings", False)), qkv_bias=family in ("qwen2", "dream"))


def _cached_config_json(path: str) -> Path | None:
    """config.json of a local checkpoint directory or of a hub id in the local cache, else None."""
    local = Path(path).expanduser() / "config.json"
    if local.is_file():
        return local
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(path, "config.json")
    except Exception:  # not a valid repo id: treated as absent
        return None
    return Path(found) if isinstance(found, str) else None


def model_arch(config: dict, model: str) -> tuple[Arch, str]:
    """Sizes of ``model`` and where they came from (arch config, config.json or the known table)."""
    spec = config["models"][model]
    family = spec["family"]
    if "arch" in spec:
        a = spec["arch"]
        vocab = int(config["data"]["tokenizer"]["vocab_size"])
        return Arch(int(a["hidden_size"]), int(a["num_layers"]), int(a["num_heads"]),
                    int(a.get("num_kv_heads") or a["num_heads"]), int(a["intermediate_size"]), vocab,
                    bool(a["tie_embeddings"]), qkv_bias=family in ("qwen2", "dream")), "config arch"
    path = spec["path"]
    found = _cached_config_json(path)
    if found is not None:
        return _arch_from_config_json(json.loads(found.read_text()), family), str(found)
    if path in KNOWN_ARCHITECTURES:
        return KNOWN_ARCHITECTURES[path], "known sizes (sinkprune/plan.py)"
    raise KeyError(f"model {model!r}: {path!r} is not in the local cache and its sizes are not in "
                   f"sinkprune.plan.KNOWN_ARCHITECTURES; download it (`snakemake download`) or add its sizes")


def task_cost(config: dict, task: str) -> TaskCost:
    """Counts of one evaluation task: config ``plan.tasks``, the paper table, or a mini task."""
    override = ((config.get("plan") or {}).get("tasks") or {}).get(task)
    if override is not None:
        return TaskCost(int(override["docs"]), int(override["options"]), int(override["tokens"]),
                        int(override["continuation"]))
    if task in PAPER_TASK_COSTS:
        return PAPER_TASK_COSTS[task]
    if task.startswith("mini_"):
        # Mini tasks: eval.n_items items (default 200) of at most data.seq_len tokens; 4 options
        # (the most any mini task has); generation for the gsm8k counterpart.
        items = int(config["eval"].get("n_items", 200))
        options = 0 if task == "mini_gsm8k" else 4
        return TaskCost(items, options, int(config["data"]["seq_len"]), 8)
    raise KeyError(f"eval.tasks names {task!r}, whose size the plan does not know: add it to config plan.tasks")


def sparsity_list(config: dict, method: str) -> list[str]:
    if method in STRUCTURED:
        return list(config["prune"].get("structured_ratios", []))
    return list(config["prune"]["sparsities"])


class Planner:
    """Builds the job list of `snakemake all` for one config and estimates each job."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.settings = plan_settings(config)
        self.bytes = dtype_bytes(config)
        self.models = list(config["models"])
        self.arch = {m: model_arch(config, m)[0] for m in self.models}
        self.pruned = list(config["prune"]["models"])
        self.methods = list(config["prune"]["methods"])
        self.tasks = list(config["eval"]["tasks"])
        calib = config["data"]["calibration"]
        self.n_calib, self.calib_len = int(calib["n_samples"]), int(calib["seq_len"])
        self.base = self.settings["host_base_gb"] * GB
        self.jobs: list[Job] = []

    # ----- helpers ---------------------------------------------------------------------------
    def is_trained(self, model: str) -> bool:
        return "train" in self.config["models"][model]

    def weights(self, model: str) -> float:
        return self.arch[model].params() * self.bytes

    def add(self, rule: str, wildcards: str, stage: str, key: str | None = None, **cost: Any) -> Job:
        job = Job(rule, wildcards, stage, key or rule, **cost)
        self.jobs.append(job)
        return job

    def add_cheap(self, rule: str, stage: str, key: str | None = None, wildcards: str = "", out: float = 1e6) -> None:
        """A job that only reads and writes small files (tables, figures, checksums): no model,
        so about a Python process with pandas / matplotlib loaded."""
        self.add(rule, wildcards, stage, key, host_mem=min(self.base, CHEAP_HOST_BYTES), out_bytes=out)

    # ----- stages ----------------------------------------------------------------------------
    def data(self) -> None:
        if any(self.is_trained(m) for m in self.models):
            corpus = float(self.config["data"].get("corpus", {}).get("max_bytes", 1e6))
            for rule, out in (("corpus", corpus), ("tokenizer", 1e6), ("streams", 8 * corpus)):
                self.add_cheap(rule, "data", out=out)
        if self.config["scale"] == "mini":
            self.add_cheap("tasks", "data")
        if not all(self.is_trained(m) for m in self.models):
            self.add_cheap("preflight_passed", "data", "preflight", out=0)  # before any hub read
        for m in self.models:
            # Token ids as int64.
            self.add("calibration", f"model={m}", "data", host_mem=self.base, out_bytes=self.n_calib * self.calib_len * 8)

    def models_stage(self) -> None:
        seq = int(self.config["data"]["seq_len"])
        for m in self.models:
            arch, params = self.arch[m], self.arch[m].params()
            if self.is_trained(m):
                train = self.config["models"][m]["train"]
                tokens = int(train["steps"]) * int(train["batch_size"]) * seq
                # Forward + backward ≈ 3 forwards; AdamW keeps weights, grads and two moments in fp32.
                flops = 3 * arch.forward_flops(seq) * tokens / seq
                self.add("train_model", f"model={m}", "models", flops=flops, out_bytes=2 * params * 4,
                         host_mem=self.base + 16 * params + int(train["batch_size"]) * seq * arch.hidden * 4 * 20)
            else:
                # Random init on the host in fp32, saved in the run's dtype; kept until sinks ran.
                for state in self.untrained_states():
                    self.add("init_untrained", f"model={m},state={state}", "models", flops=20 * params,
                             out_bytes=params * self.bytes, host_mem=self.base + params * (4 + self.bytes), temp=True)

    def untrained_states(self) -> list[str]:
        """State names of the untrained controls (``sinks.untrained_seeds`` of them)."""
        from sinkprune.sinks.store import untrained_state

        return [untrained_state(i) for i in range(int(self.config["sinks"].get("untrained_seeds", 1)))]

    def sinks(self) -> None:
        from sinkprune.sinks.settings import SinkSettings

        s = SinkSettings.from_config(self.config)
        steps = len(range(s.sample_every, s.diffusion_steps + 1, s.sample_every))
        n = min(s.analysis_samples, self.n_calib)
        seq = min(self.calib_len, s.analysis_seq_len or self.calib_len)
        states = ["trained"] + self.untrained_states()
        # Mini: one job per model computes every state and kind (rules/sinks.smk); paper: one per kind.
        grouped = self.config["scale"] == "mini"
        for m in self.models:
            arch = self.arch[m]
            ar = self.config["models"][m]["kind"] == "ar"
            jobs = []
            for state in states:
                kinds = []
                for kind in (["ar_prefix"] if ar else ["noised", "generate"]):
                    if kind == "noised":
                        lengths = [seq] * steps
                    elif kind == "ar_prefix":
                        lengths = [max(1, round(k / steps * seq)) for k in range(1, steps + 1)]
                    else:
                        total = s.prompt_len + s.gen_length
                        lengths = [total] * s.gen_steps
                    flops = n * sum(arch.forward_flops(L, head_rows=0 if kind != "generate" else L) for L in lengths)
                    longest = max(lengths)
                    # Stored mass [T, N, L, H, S] float32 plus ids.
                    out = len(lengths) * n * arch.layers * arch.heads * longest * 4 + len(lengths) * n * longest * 4
                    chunk = min(8, n)  # trajectory.BATCH_SIZE sequences per forward
                    act = chunk * (arch.heads * min(512, longest) * longest * 6 + 3 * longest * arch.intermediate * self.bytes
                                   + (longest * arch.vocab * 6 if kind == "generate" else 0))
                    kinds.append({"flops": flops, "out_bytes": out, "gpu_mem": self.weights(m) + act,
                                  "host_mem": self.base + self.weights(m) + out})
                    if not grouped:
                        self.add("sink_trajectory", f"model={m},state={state},kind={kind}", "sinks",
                                 load_bytes=self.weights(m), **kinds[-1])
                jobs += kinds
            if grouped:
                # The states are loaded one after another: one model in memory, every output kept.
                self.add("sink_trajectory_ar" if ar else "sink_trajectory", f"model={m}", "sinks",
                         "sink_trajectory", load_bytes=len(states) * self.weights(m), flops=sum(k["flops"] for k in jobs),
                         out_bytes=sum(k["out_bytes"] for k in jobs), gpu_mem=max(k["gpu_mem"] for k in jobs),
                         host_mem=self.base + self.weights(m) + sum(k["out_bytes"] for k in jobs))
        self.add_cheap("sink_summary", "sinks")

    def prune_stage(self) -> None:
        from sinkprune.sinks.settings import SinkSettings

        s = SinkSettings.from_config(self.config)
        steps = len(range(s.sample_every, s.diffusion_steps + 1, s.sample_every))
        n, S = self.n_calib, self.calib_len
        group = bool(self.config["prune"].get("group_sparsities", True))
        for m in self.pruned:
            arch, w = self.arch[m], self.weights(m)
            chunk = min(8, n)  # prune.settings.BATCH_SIZE
            observed = chunk * (arch.heads * min(512, S) * S * 6 + 3 * S * arch.intermediate * self.bytes)
            calib_acts = 2 * n * S * arch.hidden * self.bytes  # block inputs and outputs of every window
            forward = n * arch.forward_flops(S, head_rows=0)
            whole: list[dict] = []  # every job's cost; one job per model when grouped
            if any(meth in NEEDS_SHARED for meth in self.methods):
                # Sink scores: one observed forward of the calibration batch (without the head)
                # per sampled timestep; shared.pt holds the noisy inputs (int64), the scores and
                # the stable-sink gate.
                whole.append({"flops": steps * forward, "out_bytes": steps * n * S * (8 + 4) + n * S,
                              "gpu_mem": w + observed, "host_mem": self.base + w})
                if not group:
                    self.add("prune_stats", f"model={m}", "prune", load_bytes=w, **whole[-1])
            for meth in self.methods:
                sparsities = sparsity_list(self.config, meth)
                costs = [self._prune_cost(m, meth, sp, observed, calib_acts) for sp in sparsities]
                rule = "prune"
                # The method's own statistics of the dense model, once per job (every sparsity
                # of a grouped job shares them; an ungrouped job measures them itself).
                own = self._dense_stats_flops(meth, steps, forward)
                if group:
                    whole.append({"flops": own + sum(c["flops"] for c in costs),
                                  "out_bytes": sum(c["out_bytes"] for c in costs),
                                  "gpu_mem": max(c["gpu_mem"] for c in costs),
                                  "host_mem": max(c["host_mem"] for c in costs)})
                else:
                    for sp, c in zip(sparsities, costs):
                        self.add(rule, f"model={m},method={meth},sparsity={sp}", "prune", "prune", load_bytes=w,
                                 temp=True, **{**c, "flops": own + c["flops"]})
            # protocol_diff: the sink scores, each method's own statistics and every method ×
            # sparsity under both protocols in one job, on a copy of the dense model; it writes
            # only a small CSV.
            diffs = [self._prune_cost(m, meth, sp, observed, calib_acts)
                     for meth in self.methods for sp in sparsity_list(self.config, meth)]
            stats = steps * forward if any(meth in NEEDS_SHARED for meth in self.methods) else 0.0
            stats += sum(self._dense_stats_flops(meth, steps, forward) for meth in self.methods)
            whole.append({"flops": 2 * (stats + sum(c["flops"] for c in diffs)), "out_bytes": 1e5,
                          "gpu_mem": w + max(c["gpu_mem"] for c in diffs), "host_mem": self.base + 2 * w})
            if not group:
                self.add("protocol_diff", f"model={m}", "prune", load_bytes=w, **whole[-1])
                continue
            # prune.group_sparsities: one job per model does all of the above (rules/prune.smk),
            # loading the dense model once and pruning copies of it.
            self.add("prune", f"model={m}", "prune", "prune", load_bytes=w, temp=True,
                     flops=sum(c["flops"] for c in whole), out_bytes=sum(c["out_bytes"] for c in whole),
                     gpu_mem=max(c["gpu_mem"] for c in whole), host_mem=max(c["host_mem"] for c in whole) + w)

    @staticmethod
    def _dense_stats_flops(method: str, steps: int, forward: float) -> float:
        """FLOPs of what ``method`` measures on the dense model in its job (methods.dense_statistics):
        sink-aware Wanda runs every noisy input again (T forwards), structured one clean forward."""
        if method.startswith("sink_wanda"):
            return steps * forward
        return forward if method in STRUCTURED else 0.0

    def _prune_cost(self, m: str, method: str, sparsity: str, observed: float, calib_acts: float) -> dict:
        arch, w, n, S = self.arch[m], self.weights(m), self.n_calib, self.calib_len
        d, inter = arch.hidden, arch.intermediate
        kept = arch.params()
        if method in STRUCTURED:
            kept -= round(float(sparsity) * inter) * 3 * d * arch.layers
        out = kept * self.bytes
        host = self.base + 2 * w  # loaded weights plus the state dict being saved
        if method in ("magnitude", "sink_wanda", "sink_wanda_unstable", *STRUCTURED):
            # One shot from weights and the job's dense statistics: a sort per matrix.
            return {"flops": 40.0 * arch.params(), "out_bytes": out, "gpu_mem": 2 * w, "host_mem": host}
        forward = n * arch.forward_flops(S, head_rows=0)
        flops = 2 * forward  # each block runs on the calibration batch before and after pruning
        gpu = w + calib_acts + observed
        if "sparsegpt" in method:
            ins = [d] * 6 + [inter]  # q, k, v, o, gate, up read d features; down reads intermediate
            hessian = sum(x * x * 4 for x in ins)
            tokens = n * S
            # Hessian accumulation 2·tokens·d_in² per linear; OBS update ≈ d_in³ + 2·d_out·d_in².
            outs = [d, arch.kv_heads * arch.head_dim, arch.kv_heads * arch.head_dim, d, inter, inter, d]
            flops += arch.layers * sum(2 * tokens * x * x + x ** 3 + 2 * o * x * x for x, o in zip(ins, outs))
            gpu += hessian + 3 * max(ins) ** 2 * 4
        return {"flops": flops, "out_bytes": out, "gpu_mem": gpu, "host_mem": host}

    def evaluate(self) -> None:
        ev = self.config["eval"]
        split = ev.get("split", "grouped")
        runs = [(m, "dense", "0.00") for m in self.pruned]
        runs += [(m, meth, sp) for m in self.pruned for meth in self.methods for sp in sparsity_list(self.config, meth)]
        per_task = {(m, t): self._eval_cost(m, t) for m in self.pruned for t in self.tasks}
        shards = {t: int(k) for t, k in (ev.get("shards") or {}).items() if int(k) > 1}
        if split == "task":
            for m, meth, sp in runs:
                for t in self.tasks:
                    wildcards = f"model={m},method={meth},sparsity={sp},task={t}"
                    if t not in shards:
                        self.add("evaluate_task", wildcards, "evaluate", "evaluate", **per_task[(m, t)])
                        continue
                    for i, share in enumerate(self._shard_shares(m, t, shards[t])):
                        self.add("evaluate_shard", f"{wildcards},shard={i},shards={shards[t]}", "evaluate",
                                 "evaluate", **share)
                self.add_cheap("merge_eval", "evaluate", wildcards=f"model={m},method={meth},sparsity={sp}")
            return
        # Grouped: two jobs per model (sinkprune/evaluate/groups.py), perplexity included.
        from sinkprune.evaluate.groups import eval_job_runs

        for m in self.pruned:
            for rule, part in (("evaluate", 0), ("evaluate_rest", 1)):
                count = len(eval_job_runs(self.config, part))
                if count:
                    self.add(rule, f"model={m}", "evaluate", "evaluate", **self._eval_and_perplexity(m, count))

    def _eval_and_perplexity(self, m: str, models: int) -> dict:
        """Cost of a grouped evaluation job: lm-eval, then perplexity, of ``models`` models."""
        cost = self._sum_eval(m, models)
        if "perplexity" not in self.config["eval"]:
            return cost
        ppl = self._perplexity_cost(m, models)
        return cost | {"flops": cost["flops"] + ppl["flops"], "load_bytes": cost["load_bytes"] + ppl["load_bytes"],
                       "out_bytes": cost["out_bytes"] + ppl["out_bytes"], "gpu_mem": max(cost["gpu_mem"], ppl["gpu_mem"]),
                       "host_mem": max(cost["host_mem"], ppl["host_mem"])}

    def perplexity(self) -> None:
        """The release's perplexity (rules/eval.smk): one job per evaluated model with eval.split:
        task; with grouped evaluation the evaluation jobs compute it (:meth:`evaluate`)."""
        if "perplexity" not in self.config["eval"] or self.config["eval"].get("split", "grouped") != "task":
            return
        runs = [(m, "dense", "0.00") for m in self.pruned] + [
            (m, meth, sp) for m in self.pruned for meth in self.methods for sp in sparsity_list(self.config, meth)]
        for m, meth, sp in runs:
            self.add("perplexity", f"model={m},method={meth},sparsity={sp}", "evaluate", "perplexity",
                     **self._perplexity_cost(m, 1))

    def _perplexity_cost(self, m: str, models: int) -> dict:
        from sinkprune.evaluate.perplexity import PerplexitySettings

        arch, w = self.arch[m], self.weights(m)
        ppl = PerplexitySettings.from_config(self.config["eval"]["perplexity"])
        # Estimated tokens: about 64 per WikiText row read (or per held-out text line at mini).
        windows = max(1, (ppl.rows * 64 - 2 * ppl.chunk) // ppl.stride)
        flops = models * windows * ppl.mc_num * arch.forward_flops(ppl.max_length, head_rows=ppl.chunk)
        act = ppl.mc_num * (ppl.max_length * (3 * arch.intermediate + 4 * arch.hidden) * self.bytes
                            + ppl.chunk * arch.vocab * 6)
        return {"flops": flops, "load_bytes": models * w, "out_bytes": models * 1e4, "gpu_mem": w + act,
                "host_mem": self.base + w}

    def _shard_shares(self, m: str, task: str, count: int) -> list[dict]:
        """Cost of each shard of ``task``: its documents' share (i::K of the evaluated ones) of the
        task's FLOPs; each shard loads the model and writes its result on its own."""
        whole = self._eval_cost(m, task)
        cost = task_cost(self.config, task)
        ev = self.config["eval"]
        docs = min(cost.docs, int(ev["limit"])) if ev.get("limit") else cost.docs
        if count > docs:
            raise KeyError(f"eval.shards: {task} has {docs} documents, fewer than its {count} shards")
        return [dict(whole, flops=whole["flops"] * len(range(i, docs, count)) / docs) for i in range(count)]

    def _sum_eval(self, m: str, models: int) -> dict:
        parts = [self._eval_cost(m, t) for t in self.tasks]
        return {"flops": models * sum(p["flops"] for p in parts), "load_bytes": models * parts[0]["load_bytes"],
                "out_bytes": models * 1e6, "gpu_mem": max(p["gpu_mem"] for p in parts),
                "host_mem": max(p["host_mem"] for p in parts)}

    def _eval_cost(self, m: str, task: str) -> dict:
        ev, arch, w = self.config["eval"], self.arch[m], self.weights(m)
        cost = task_cost(self.config, task)
        docs = min(cost.docs, int(ev["limit"])) if ev.get("limit") else cost.docs
        batch = int(ev["batch_size"])
        if cost.options == 0:
            gen, steps = int(ev.get("gen_length", 4)), int(ev.get("steps", 4))
            seq = cost.tokens + gen
            # Every denoising step is a full forward over prompt + answer (no cache in DLMs).
            flops = docs * steps * arch.forward_flops(seq)
            act = batch * seq * (arch.vocab * 6 + 3 * arch.intermediate * self.bytes + 4 * arch.hidden * self.bytes)
        else:
            mc = int(ev["mc_num"])
            # Monte Carlo rows per scored option; a continuation of T tokens with 2^T − 1 ≤ mc_num
            # is scored by enumerating its 2^T − 1 masked subsets (sinkprune.evaluate.likelihood).
            rows = min(mc, 2 ** cost.continuation - 1) if cost.continuation < 31 else mc
            flops = docs * cost.options * rows * arch.forward_flops(cost.tokens, head_rows=cost.continuation)
            seq = cost.tokens
            act = batch * (seq * (3 * arch.intermediate + 4 * arch.hidden) * self.bytes
                           + arch.heads * min(512, seq) * seq * 6 + cost.continuation * arch.vocab * 6)
        return {"flops": flops, "load_bytes": w, "out_bytes": 1e6, "gpu_mem": w + act, "host_mem": self.base + w}

    def controls(self) -> None:
        """Planted positive controls (rules/controls.smk): mini-architecture models on the CPU."""
        if "controls" not in self.config:
            return
        for rule in ("control_sink_pairs", "control_sink_power", "control_pruning"):
            self.add_cheap(rule, "sinks", "controls")
        self.add_cheap("fig_sink_power", "figures", "figures")

    def tables(self) -> None:
        self.add_cheap("main_table", "tables")
        for rule in ("fig_sink_variance", "fig_sink_layers", "fig_accuracy"):
            self.add_cheap(rule, "figures", "figures")
        for m in self.models:
            self.add_cheap("fig_sink_heatmap", "figures", "figures", wildcards=f"model={m}")
        self.add_cheap("audit", "tables")
        self.add_cheap("provenance", "checksums", "checksums")
        self.add_cheap("manifest", "checksums", "checksums")

    # ----- estimate and check ----------------------------------------------------------------
    def build(self) -> list[Job]:
        """Every job of `snakemake all`, each with its estimate and its flags."""
        self.jobs = []
        self.data()
        self.models_stage()
        self.sinks()
        self.prune_stage()
        self.evaluate()
        self.perplexity()
        self.controls()
        self.tables()
        for job in self.jobs:
            self._estimate(job)
        return self.jobs

    def _limit(self, key: str, name: str) -> Any:
        table = self.config.get("resources", {})
        return table.get(key, {}).get(name, table.get("default", {}).get(name))

    def _estimate(self, job: Job) -> None:
        job.limits = {k: self._limit(job.resource_key, k) for k in ("mem_mb", "runtime", "gpu")}
        s = self.settings
        rate = s["gpu_tflops"] * 1e12 if job.gpus else s["cpu_gflops"] * 1e9
        job.seconds = s["job_overhead_s"] + job.flops / rate + (job.load_bytes + job.out_bytes) / (s["io_gbps"] * GB)
        if not job.gpus and job.gpu_mem:
            # Without a GPU the model runs in host memory.
            job.host_mem = max(job.host_mem, job.gpu_mem + self.base)
            job.gpu_mem = 0.0
        runtime = job.limits.get("runtime")
        if runtime is not None and job.seconds > runtime * 60:
            job.flags.append(f"time {job.seconds / 60:.0f} min > runtime {runtime}")
        mem = job.limits.get("mem_mb")
        if mem is not None and job.host_mem > mem * 1e6:
            job.flags.append(f"host {job.host_mem / GB:.1f} GB > mem_mb {mem}")
        if job.gpus and job.gpu_mem > s["gpu_mem_gb"] * GB:
            job.flags.append(f"GPU {job.gpu_mem / GB:.1f} GB > plan.gpu_mem_gb {s['gpu_mem_gb']:g}")


def build_plan(config: dict) -> list[Job]:
    """Every job of `snakemake all` for ``config`` with its estimated cost and flags."""
    return Planner(config).build()


def peak_disk_bytes(config: dict) -> int:
    """Disk a whole run needs at its peak: every kept output plus every temporary one.

    Temporary outputs (pruned checkpoints, untrained controls) are deleted once the jobs that
    read them finished, but Snakemake does not bound how many exist at once (with enough
    parallel jobs every prune job can finish before the first evaluation), so the bound counts
    them all.
    """
    return int(sum(job.out_bytes for job in build_plan(config)))


def stage_totals(jobs: list[Job]) -> dict[str, dict[str, float]]:
    """Per stage: job count, FLOPs, GPU-hours, wall hours summed over jobs, flagged jobs."""
    totals: dict[str, dict[str, float]] = {}
    for job in jobs:
        t = totals.setdefault(job.stage, {"jobs": 0, "flops": 0.0, "gpu_hours": 0.0, "hours": 0.0, "flagged": 0})
        t["jobs"] += 1
        t["flops"] += job.flops
        t["gpu_hours"] += job.gpu_hours
        t["hours"] += job.seconds / 3600
        t["flagged"] += bool(job.flags)
    return totals


def write_tsv(jobs: list[Job], out: str | Path) -> None:
    """One row per job (sorted as built: stage order)."""
    lines = ["rule\twildcards\tstage\tflops\tseconds\tgpu_hours\tgpu_mem_gb\thost_mem_gb\tdisk_gb\ttemp"
             "\truntime_min\tmem_mb\tgpu\tflags"]
    for j in jobs:
        lines.append("\t".join([j.rule, j.wildcards, j.stage, f"{j.flops:.3e}", f"{j.seconds:.0f}",
                                f"{j.gpu_hours:.3f}", f"{j.gpu_mem / GB:.2f}", f"{j.host_mem / GB:.2f}",
                                f"{j.out_bytes / GB:.3f}", str(j.temp).lower(), str(j.limits.get("runtime")),
                                str(j.limits.get("mem_mb")), str(j.limits.get("gpu")), "; ".join(j.flags)]))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _heaviest(jobs: list[Job]) -> dict[str, Job]:
    heaviest: dict[str, Job] = {}
    for job in jobs:
        if job.rule not in heaviest or job.seconds > heaviest[job.rule].seconds:
            heaviest[job.rule] = job
    return heaviest


def report(config: dict, jobs: list[Job]) -> str:
    """The table `snakemake plan` prints: models, per-rule worst job, stage totals, flags."""
    lines = ["models:"]
    for m in config["models"]:
        arch, source = model_arch(config, m)
        lines.append(f"  {m:<14} {arch.params() / 1e9:8.3f} B parameters  ({source})")
    lines.append("")
    lines.append(f"{'rule (longest job)':<22}{'jobs':>6}{'hours':>9}{'GPU GB':>8}{'host GB':>9}{'disk GB':>9}"
                 f"{'runtime':>9}{'mem_mb':>8}  limits")
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.rule] = counts.get(job.rule, 0) + 1
    for rule, job in _heaviest(jobs).items():
        flagged = sum(1 for j in jobs if j.rule == rule and j.flags)
        lines.append(f"{rule:<22}{counts[rule]:>6}{job.seconds / 3600:>9.2f}{job.gpu_mem / GB:>8.1f}"
                     f"{job.host_mem / GB:>9.1f}{job.out_bytes / GB:>9.2f}{str(job.limits.get('runtime')):>9}"
                     f"{str(job.limits.get('mem_mb')):>8}  {'OVER: ' + str(flagged) + ' job(s)' if flagged else 'ok'}")
    lines.append("")
    lines.append(f"{'stage':<12}{'jobs':>7}{'FLOPs':>11}{'GPU-hours':>11}{'job-hours':>11}")
    totals = stage_totals(jobs)
    for stage, t in totals.items():
        lines.append(f"{stage:<12}{int(t['jobs']):>7}{t['flops']:>11.2e}{t['gpu_hours']:>11.1f}{t['hours']:>11.1f}")
    gpu_hours = sum(t["gpu_hours"] for t in totals.values())
    lines.append(f"{'total':<12}{len(jobs):>7}{sum(t['flops'] for t in totals.values()):>11.2e}{gpu_hours:>11.1f}"
                 f"{sum(t['hours'] for t in totals.values()):>11.1f}")
    peak = sum(j.out_bytes for j in jobs)
    kept = sum(j.out_bytes for j in jobs if not j.temp)
    lines.append(f"disk: peak {peak / GB:.1f} GB (kept outputs {kept / GB:.1f} GB + temporary checkpoints "
                 f"{(peak - kept) / GB:.1f} GB, all counted as alive at once)")
    s = plan_settings(config)
    lines.append(f"assumed: {s['gpu_tflops']:g} TFLOPS per GPU, {s['cpu_gflops']:g} GFLOPS per CPU job, "
                 f"{s['gpu_mem_gb']:g} GB per GPU, {s['io_gbps']:g} GB/s disk, {s['job_overhead_s']:g} s start-up, "
                 f"{dtype_bytes(config)}-byte weights")
    flagged = [j for j in jobs if j.flags]
    if flagged:
        lines.append("")
        lines.append(f"{len(flagged)} job(s) over their limits (config resources / plan.gpu_mem_gb):")
        for j in flagged[:40]:
            lines.append(f"  {j.rule}[{j.wildcards}]: {'; '.join(j.flags)}")
        if len(flagged) > 40:
            lines.append(f"  … and {len(flagged) - 40} more (see the TSV)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the plan, write the TSV; exit 1 when any job exceeds its limits."""
    from sinkprune.config import load_config

    parser, _ = stage_parser("plan", __doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True, help="TSV with one row per job")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    try:
        jobs = build_plan(config)
    except KeyError as err:
        sys.exit(f"error: {err.args[0]}")
    write_tsv(jobs, args.out)
    print(report(config, jobs))
    print(f"wrote {args.out}")
    if any(j.flags for j in jobs):
        sys.exit(1)


if __name__ == "__main__":
    main()
