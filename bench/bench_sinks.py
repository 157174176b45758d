"""Cost of the sink statistics pass relative to a plain forward pass (mini architecture).

    python bench/bench_sinks.py [--model DIR] [--family llada] [--batch 8] [--seq 128] [--repeats 5]

The statistics pass is one forward pass under ``observe_attention()`` (eager attention that
reduces each layer's softmax to received mass before the next layer) plus the copy of the
``[L, B, H, S]`` mass; the plain pass is the model's default (SDPA) forward. Also times the
per-sequence statistics of a whole mini trajectory (numpy, all scopes, with the random control).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sinkprune.models import build_model, load_model
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.summary import analyse_baseline, analyse_trajectory
from sinkprune.sinks.trajectory import build_trajectory, observed_mass
from timing import best_of

MINI_ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint directory (default: random mini-architecture model)")
    parser.add_argument("--family", default="llada")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model) if args.model else build_model(
        args.family, MINI_ARCH, 1024, args.seq, {"bos": 0, "eos": 1, "pad": 2, "mask": 3}, seed=0)
    ids = torch.randint(4, 1000, (args.batch, args.seq), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 0
    with torch.no_grad():
        plain = best_of(lambda: model(ids), args.repeats)
    observed = best_of(lambda: observed_mass(model, ids), args.repeats)
    print(f"model {model.family} L={model.num_layers} H={model.num_heads}, batch {args.batch} x seq {args.seq}")
    print(f"plain forward      {plain * 1e3:8.1f} ms")
    print(f"statistics forward {observed * 1e3:8.1f} ms  (one observed pass, mass reduced per layer)")
    print(f"ratio statistics / plain: {observed / plain:.2f}")
    settings = SinkSettings(analysis_samples=args.batch)
    kind = "ar_prefix" if model.is_causal else "noised"
    start = time.perf_counter()
    traj = build_trajectory(model, ids, kind, settings)
    build = time.perf_counter() - start
    start = time.perf_counter()
    analyse_trajectory(traj, settings)
    analyse_baseline(traj, settings, "bench", kind)
    stats = time.perf_counter() - start
    steps = traj.num_timesteps
    print(f"{kind} trajectory: {steps} timesteps in {build:.2f} s = {build / steps / plain:.2f} plain forwards "
          f"per timestep; statistics + random control (all scopes) {stats:.2f} s "
          f"(mass {traj.mass.nbytes / 2**20:.1f} MiB, {np.prod(traj.mass.shape[:2])} sequence-timesteps)")


if __name__ == "__main__":
    main()
