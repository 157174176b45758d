"""Timing of the pruning methods on a mini-sized random model (not a test; prints ratios).

    .venv/bin/python bench/bench_prune.py [--repeats 3]

Reports, on the mini architecture (hidden 128, 4 layers, FFN 512, seq 128, 16 calibration
sequences, 10 timesteps):
- sink_wanda / wanda wall time, excluding the shared statistics (goal ≤ 1.2),
- sparsegpt / wanda,
- the shared-statistics pass as a multiple of one forward pass over the calibration batch per
  timestep (two noisy passes per timestep plus one clean pass → ideally ≈ 2.1).
Fastest of ``--repeats`` runs each (least disturbed by other jobs on shared cores), one thread.
"""

from __future__ import annotations

import argparse
import copy

import torch

from sinkprune.models import build_model
from sinkprune.prune.capture import chunk_slices
from sinkprune.prune.methods import prune_model
from sinkprune.prune.settings import PruneSettings, SinkSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import compute_shared_stats
from timing import best_of

ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True}
VOCAB, SEQ, N = 1024, 128, 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = build_model("llada", ARCH, VOCAB, SEQ, {"bos": 1, "eos": 2, "pad": 3, "mask": 4}, seed=0)
    ids = torch.randint(5, VOCAB, (N, SEQ), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 1
    sinks, settings = SinkSettings(), PruneSettings()
    steps = len(range(sinks.sample_every, sinks.diffusion_steps + 1, sinks.sample_every))

    def forward_once() -> None:
        with torch.no_grad():
            for sl in chunk_slices(N):
                model(ids[sl])

    forward = best_of(forward_once, args.repeats)
    shared = compute_shared_stats(model, ids, sinks, seed=0)
    stats = best_of(lambda: compute_shared_stats(model, ids, sinks, seed=0), args.repeats)

    def method_time(method: str, spec: str = "0.50") -> float:
        def run() -> None:
            prune_model(copy.deepcopy(model), method, parse_sparsity(spec), ids, shared, settings)
        copy_cost = best_of(lambda: copy.deepcopy(model), args.repeats)
        return best_of(run, args.repeats) - copy_cost

    times = {m: method_time(m) for m in ("magnitude", "wanda", "sparsegpt", "sink_wanda", "sink_sparsegpt",
                                          "structured", "sink_structured")}
    print(f"mini model: {sum(p.numel() for p in model.parameters())} parameters, N={N}, S={SEQ}, T={steps}")
    print(f"one forward pass over the calibration batch: {forward * 1e3:.1f} ms")
    print(f"shared statistics: {stats:.2f} s = {stats / (steps * forward):.2f} × (T × forward)")
    for method, seconds in times.items():
        print(f"  {method:16s} {seconds * 1e3:8.1f} ms at 0.50")
    print(f"sink_wanda / wanda      = {times['sink_wanda'] / times['wanda']:.2f}  (goal ≤ 1.2; statistics excluded)")
    print(f"sparsegpt / wanda       = {times['sparsegpt'] / times['wanda']:.2f}")
    print(f"sink_sparsegpt / sparsegpt = {times['sink_sparsegpt'] / times['sparsegpt']:.2f}")


if __name__ == "__main__":
    main()
