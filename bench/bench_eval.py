"""Benchmark of the evaluate stage on a mini-architecture model (1 thread).

    python bench/bench_eval.py [--model DIR] [--tasks-dir DIR] [--config config/mini.yaml]

Prints (1) Monte Carlo log-likelihood throughput (tokens through the model per second) as a
fraction of raw forward-pass throughput at the same batch size (goal ≥ 0.8: the estimator adds
little beyond the forward passes it needs) and (2) the wall time of one model's mini evaluation
(``python -m sinkprune.evaluate`` in-process, all tasks of the config) when a model and a tasks
directory are given. Without ``--model`` an untrained mini-architecture LLaDA stand-in is used
for (1) (throughput does not depend on the weights).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import torch

LLADA_VOCAB = 126464  # LLaDA-8B's config.json vocab_size
ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True}


def _model(path: str | None):
    from sinkprune.models import build_model, load_model

    if path:
        return load_model(path)
    return build_model("llada", ARCH, vocab_size=1040, max_seq_len=128,
                       special_ids={"bos": 0, "eos": 1, "pad": 2, "mask": 3}, seed=0)


def likelihood_efficiency(model, batch_size: int, mc_num: int, n_requests: int = 256) -> dict:
    """MC log-likelihood tokens/s vs raw forward tokens/s on task-shaped requests."""
    from sinkprune.evaluate.likelihood import dlm_loglikelihoods, dlm_rows, request_generator

    rng = random.Random(0)
    # Shapes like the mini tasks: 15–100 context tokens, 1–6 answer tokens.
    seqs, ctx = [], []
    for _ in range(n_requests):
        c, t = rng.randint(15, 100), rng.randint(1, 6)
        seqs.append([0] + [rng.randrange(20, 1000) for _ in range(c + t)])
        ctx.append(1 + c)
    start = time.perf_counter()
    dlm_loglikelihoods(model, seqs, ctx, mc_num=mc_num, batch_size=batch_size, seed=0, enumerate_small=False)
    mc_time = time.perf_counter() - start
    mc_tokens = sum(len(s) for s in seqs) * mc_num

    # Raw forward passes over the same token count, full batches of the mean length.
    length = round(sum(len(s) for s in seqs) / len(seqs))
    batches = max(1, mc_tokens // (batch_size * length))
    x = torch.randint(20, 1000, (batch_size, length))
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(batches):
            model.position_logits(x)
    raw_time = time.perf_counter() - start
    raw_tps = batches * batch_size * length / raw_time
    mc_tps = mc_tokens / mc_time
    # The head runs on masked rows only (SinkModel.position_logits with positions).
    rows = [r for i, (s, c) in enumerate(zip(seqs, ctx))
            for r in dlm_rows(i, c, len(s) - c, mc_num, request_generator(0, s + [c]), enumerate_small=False)]
    head_share = sum(len(r.masked) for r in rows) / sum(len(seqs[r.request]) for r in rows)
    return {"mc_tokens_per_s": mc_tps, "raw_tokens_per_s": raw_tps, "fraction": mc_tps / raw_tps,
            "head_share": head_share, "batch_tokens": batch_size * length}


def mini_eval_seconds(model: str, tasks_dir: str, config: str) -> float:
    """Wall time of one model's evaluation on every task of the config, through the CLI."""
    from sinkprune.evaluate.__main__ import main

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        main(["--model", model, "--tasks-dir", tasks_dir, "--config", config, "--out", str(Path(tmp) / "o.json")])
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--tasks-dir", default=None)
    parser.add_argument("--config", default="config/mini.yaml")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import yaml

    settings = yaml.safe_load(Path(args.config).read_text())["eval"]
    eff = likelihood_efficiency(_model(args.model), int(settings["batch_size"]), int(settings["mc_num"]))
    print(f"MC log-likelihood: {eff['mc_tokens_per_s']:.0f} tok/s; raw forward: {eff['raw_tokens_per_s']:.0f} tok/s; "
          f"fraction {eff['fraction']:.2f} (goal >= 0.8)")
    full_gib = eff["batch_tokens"] * LLADA_VOCAB * 4 / 2**30
    print(f"head rows: {100 * eff['head_share']:.1f} % of the positions of a forward batch; with LLaDA-8B's vocabulary "
          f"the fp32 logits of a {eff['batch_tokens']}-token batch take {full_gib:.2f} GiB in full, "
          f"{1024 * full_gib * eff['head_share']:.0f} MiB for the masked rows")
    if args.model and args.tasks_dir:
        seconds = mini_eval_seconds(args.model, args.tasks_dir, args.config)
        print(f"mini evaluation of one model ({len(settings['tasks'])} tasks, limit {settings.get('limit')}, "
              f"mc_num {settings['mc_num']}): {seconds:.1f} s")


if __name__ == "__main__":
    main()
