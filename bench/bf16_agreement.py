"""Pruning in bfloat16 against float32: share of equal pruning decisions per method (CPU).

    python bench/bf16_agreement.py [--model DIR ...] [--sparsity 0.50] [--structured-ratio 0.30]
        [--samples 16] [--seq-len 128] [--threads 2]

Paper scale loads the checkpoints in bfloat16 (config ``dtype``, as the released code); mini
runs float32. Each model is pruned by every method twice from the same checkpoint and
calibration batch, once loaded in float32 and once in bfloat16 (shared statistics recomputed in
each), and the table gives the share of weights (structured: MLP channels) whose keep/remove
decision is the same. A last column per model compares the LLaDA-protocol log-likelihood of a
few random continuations under the dense model in both dtypes.

Without ``--model``: untrained LLaDA- and Dream-family models of the mini architecture
(build_model, seed 0) and random calibration ids; ``--model`` takes checkpoint directories
(e.g. results/models/tiny-llada/trained after a mini run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

MINI_ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True}
SPECIAL = {"bos": 1, "eos": 2, "pad": 3, "mask": 4}
VOCAB = 1024


def tiny_zoo(root: Path, arch: dict = MINI_ARCH, vocab: int = VOCAB, seq_len: int = 128) -> list[Path]:
    """Untrained llada and dream checkpoints (float32) saved under ``root``."""
    from sinkprune.models import build_model, save_model

    dirs = []
    for family in ("llada", "dream"):
        save_model(build_model(family, arch, vocab, seq_len, SPECIAL, seed=0), root / family)
        dirs.append(root / family)
    return dirs


def calibration(vocab: int, samples: int, seq_len: int, bos: int = SPECIAL["bos"], seed: int = 0) -> torch.Tensor:
    """Random ids ``[samples, seq_len]`` above the special ids, BOS first."""
    ids = torch.randint(5, vocab, (samples, seq_len), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = bos
    return ids


def dense_loglikelihoods(model_dir: Path, dtype: torch.dtype, vocab: int, n: int = 8) -> list[float]:
    """LLaDA-protocol log-likelihoods of ``n`` random 24-token sequences (last 8 scored), mc_num 32."""
    from sinkprune.evaluate.likelihood import dlm_loglikelihoods
    from sinkprune.models import load_model

    model = load_model(model_dir, dtype=dtype)
    gen = torch.Generator().manual_seed(1)
    seqs = [[model.bos_id] + torch.randint(5, vocab, (23,), generator=gen).tolist() for _ in range(n)]
    return dlm_loglikelihoods(model, seqs, [16] * n, mc_num=32, batch_size=64, seed=0)


def main() -> None:
    from sinkprune.models.checkpoint import read_config
    from sinkprune.prune.agreement import agreement, pruning_decisions
    from sinkprune.prune.methods import METHODS, STRUCTURED
    from sinkprune.prune.settings import PruneSettings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="checkpoint directory (repeatable)")
    parser.add_argument("--sparsity", default="0.50")
    parser.add_argument("--structured-ratio", default="0.30")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = PruneSettings()  # released defaults: soft sinks, 50 steps every 5, percdamp 0.01, blocksize 128
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(m) for m in args.model] or tiny_zoo(Path(tmp))
        print(f"| model | method | sparsity | agreement bf16 vs fp32 |\n|---|---|---|---|")
        notes = []
        for model_dir in dirs:
            raw = read_config(model_dir)
            vocab = int(raw["vocab_size"])
            bos = raw.get("bos_token_id", SPECIAL["bos"])
            ids = calibration(vocab, args.samples, args.seq_len, bos=bos if isinstance(bos, int) else 1)
            start = time.perf_counter()
            runs = {dtype: pruning_decisions(model_dir, ids, settings, list(METHODS), args.sparsity,
                                             args.structured_ratio, dtype=dtype)
                    for dtype in (torch.float32, torch.bfloat16)}
            seconds = time.perf_counter() - start
            for method in METHODS:
                spec = args.structured_ratio if method in STRUCTURED else args.sparsity
                share = agreement(runs[torch.float32][method], runs[torch.bfloat16][method])
                print(f"| {model_dir.name} | {method} | {spec} | {100 * share:.2f} % |")
            fp32 = dense_loglikelihoods(model_dir, torch.float32, vocab)
            bf16 = dense_loglikelihoods(model_dir, torch.bfloat16, vocab)
            worst = max(abs(a - b) / abs(a) for a, b in zip(fp32, bf16))
            notes.append(f"{model_dir.name}: pruning both dtypes {seconds:.0f} s; dense log-likelihood "
                         f"(8 continuations of 8 tokens, ≈ {sum(fp32) / len(fp32):.1f}) differs by at most "
                         f"{100 * worst:.2f} % relative in bf16")
        print()
        print("\n".join(notes))


if __name__ == "__main__":
    main()
