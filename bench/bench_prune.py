"""Timing of the pruning methods on a mini-sized random model (not a test; prints ratios).

    .venv/bin/python bench/bench_prune.py [--repeats 3] [--clock cpu|wall] [--protocol corrected|released]

On the mini architecture (hidden 128, 4 layers, FFN 512, seq 128, 16 calibration sequences,
10 timesteps), each method is timed as one prune job of the mini DAG runs it: the statistics it
uses (the sink scores of shared.pt for the sink-aware methods, plus its own statistics of the
dense model, measured once per job), then pruning at every sparsity of config/mini.yaml. Prints:
- sink_sparsegpt / sparsegpt per job, statistics included (goal ≤ 1.5),
- sink_wanda / wanda per job, statistics included (goal ≤ 3),
- the same ratios at one sparsity with statistics excluded, sparsegpt / wanda, and the sink
  scores as a multiple of one forward pass over the calibration batch per timestep.
One torch thread; each time is the fastest of ``--repeats`` runs in this process's CPU time
(``--clock cpu``, the default: other jobs on shared cores barely change it) or in wall time
(``--clock wall``); the repeats run in rounds over all calls, so compared times saw the same load.
``--protocol`` (default ``corrected``, config/mini.yaml's) selects how the statistics and
masks are computed (``released``: one sequence per forward pass).
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
import yaml

from sinkprune.chunks import chunk_slices
from sinkprune.models import build_model
from sinkprune.prune.methods import METHODS, NEEDS_SHARED, STRUCTURED, dense_statistics, prune_model
from sinkprune.prune.settings import BATCH_SIZE, PROTOCOLS, PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import compute_shared_stats
from timing import best_of_each

ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True}
VOCAB, SEQ, N = 1024, 128, 16
MINI = Path(__file__).resolve().parents[1] / "config" / "mini.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="corrected")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    torch.set_num_threads(1)
    prune_config = yaml.safe_load(MINI.read_text())["prune"]
    model = build_model("llada", ARCH, VOCAB, SEQ, {"bos": 1, "eos": 2, "pad": 3, "mask": 4}, seed=0)
    ids = torch.randint(5, VOCAB, (N, SEQ), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 1
    settings = PruneSettings(protocol=args.protocol)
    sinks = settings.sinks
    released = settings.released
    steps = len(range(sinks.sample_every, sinks.diffusion_steps + 1, sinks.sample_every))
    shared = compute_shared_stats(model, ids, sinks, seed=0, protocol=args.protocol)
    dense = {m: dense_statistics(model, m, ids, shared, released) for m in METHODS}
    specs = {m: prune_config["structured_ratios"] if m in STRUCTURED else prune_config["sparsities"] for m in METHODS}

    def forward_once() -> None:
        with torch.no_grad():
            for sl in chunk_slices(N, BATCH_SIZE):
                model(ids[sl])

    def prune_call(method: str, spec: str):
        return lambda: prune_model(copy.deepcopy(model), method, parse_sparsity(spec), ids, shared, settings,
                                   dense[method])

    calls = {"forward": forward_once, "copy": lambda: copy.deepcopy(model),
             "scores": lambda: compute_shared_stats(model, ids, sinks, seed=0, protocol=args.protocol)}
    calls |= {f"stats {m}": (lambda m=m: dense_statistics(model, m, ids, shared, released)) for m in METHODS}
    calls |= {f"{m} {s}": prune_call(m, s) for m in METHODS for s in specs[m]}
    times = best_of_each(calls, args.repeats, clock)

    forward, scores_time = times["forward"], times["scores"]
    jobs = {}
    for m in METHODS:  # (statistics the job uses, pruning time per sparsity)
        stats = times[f"stats {m}"] + (scores_time if m in NEEDS_SHARED else 0.0)
        jobs[m] = (stats, {s: times[f"{m} {s}"] - times["copy"] for s in specs[m]})
    total = {m: stats + sum(pruning.values()) for m, (stats, pruning) in jobs.items()}

    print(f"mini model: {sum(p.numel() for p in model.parameters())} parameters, N={N}, S={SEQ}, T={steps}, "
          f"protocol {args.protocol}, {args.clock} time, best of {args.repeats}")
    print(f"one forward pass over the calibration batch: {forward * 1e3:.1f} ms")
    print(f"sink scores (shared.pt): {scores_time:.2f} s = {scores_time / (steps * forward):.2f} × (T × forward)")
    print(f"{'method':24s} {'statistics':>10s} {'pruning':>9s} {'job':>8s}  sparsities")
    for method, (stats, pruning) in jobs.items():
        print(f"{method:24s} {stats:9.2f}s {sum(pruning.values()):8.2f}s {total[method]:7.2f}s  {' '.join(pruning)}")
    at = {m: pruning.get("0.50") for m, (_, pruning) in jobs.items()}
    print(f"sink_sparsegpt / sparsegpt = {total['sink_sparsegpt'] / total['sparsegpt']:.2f}  "
          f"(goal ≤ 1.5; per job: statistics included, over {len(jobs['sparsegpt'][1])} sparsities)")
    print(f"sink_wanda / wanda         = {total['sink_wanda'] / total['wanda']:.2f}  (goal ≤ 3; same terms)")
    print(f"sink_sparsegpt_unstable / sparsegpt = {total['sink_sparsegpt_unstable'] / total['sparsegpt']:.2f}, "
          f"sink_wanda_unstable / wanda = {total['sink_wanda_unstable'] / total['wanda']:.2f}  (same terms)")
    print(f"at 0.50, statistics excluded: sink_sparsegpt / sparsegpt = {at['sink_sparsegpt'] / at['sparsegpt']:.2f}, "
          f"sink_wanda / wanda = {at['sink_wanda'] / at['wanda']:.2f}, sparsegpt / wanda = "
          f"{at['sparsegpt'] / at['wanda']:.2f}")


if __name__ == "__main__":
    main()
