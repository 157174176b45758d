"""Does a tiny model learn an in-context lookup within the mini training budget?

The measurement behind the RACE counterpart (docs/mini.md, "Why every task rests on a one-step
skill"). Each run trains one mini-architecture model on packed lines of a single task with the
mini zoo's training loop (``sinkprune.models.train.train``, SFT-style rows for masked
diffusion), and prints every ``--every`` steps the accuracy on 200 held-out items asked alone
(argmax over the four options at the answer position; chance 25 %):

- ``kv``: key→value recall, ``"keys b7 q2 x5 , q2"`` (a rejected RACE counterpart). The value
  follows its key, so answering takes two composed attention steps: an induction head.
- ``listed``: which key a passage lists, ``"keys b q x m , one is q"`` (the RACE
  counterpart, ``sinkprune.data.skills.listed``): one attention step, copying a token of the line.

Run from the repo root after ``snakemake results/data/tokenizer``::

    python bench/lookup_learning.py --task kv --steps 1400
    python bench/lookup_learning.py --task kv --family qwen2 --objective ar --lr 3e-3 --steps 600
    python bench/lookup_learning.py --task listed --steps 600
"""

from __future__ import annotations

import argparse
import random

import torch

from sinkprune.data.skills import KEYS, Item, items
from sinkprune.data.streams import skill_stream
from sinkprune.data.tokenizer import load_tokenizer, special_ids
from sinkprune.models import build_model
from sinkprune.models.train import TrainSettings, train

ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True,
        "init_std": 0.08}


def key_value(rng: random.Random) -> Item:
    """``"keys b7 q2 x5 , q"`` → ``"2"``; distractors: the passage's other values, then one outside."""
    keys = rng.sample(KEYS, 3)
    values = rng.sample(range(10), 4)
    asked = rng.randrange(3)
    passage = " ".join(f"{k}{v}" for k, v in zip(keys, values))
    others = [v for i, v in enumerate(values[:3]) if i != asked] + [values[3]]
    return Item("kv", f"keys {passage} , {keys[asked]}", str(values[asked]), tuple(str(v) for v in others))


def task_items(task: str, n: int, seed: str) -> list[Item]:
    """``n`` items of ``task`` (``kv`` here, ``listed`` from the package), deterministic from ``seed``."""
    if task == "listed":
        return items("listed", n, seed)
    rng = random.Random(f"kv:{seed}")
    return [key_value(rng) for _ in range(n)]


@torch.no_grad()
def accuracy(model, tok, held_out: list[Item], objective: str) -> float:
    """Share of items whose answer outscores its three distractors at the answer position."""
    model.eval()
    right = 0
    for it in held_out:
        prompt = [tok.bos_token_id] + tok(it.prompt, add_special_tokens=False)["input_ids"]
        options = [tok(o, add_special_tokens=False)["input_ids"][0] for o in (it.answer, *it.distractors)]
        if objective == "ar":
            logits = model(torch.tensor([prompt]))[0, -1]
        else:
            logits = model.position_logits(torch.tensor([prompt + [model.mask_id]]))[0, -1]
        right += int(logits[options].argmax()) == 0
    model.train()
    return right / len(held_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="kv", choices=["kv", "listed"])
    parser.add_argument("--family", default="llada", choices=["llada", "dream", "qwen2", "llama"])
    parser.add_argument("--objective", default="mdm", choices=["mdm", "ar"])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--tokenizer", default="results/data/tokenizer")
    args = parser.parse_args()

    torch.set_num_threads(1)
    tok = load_tokenizer(args.tokenizer)
    model = build_model(args.family, ARCH, vocab_size=len(tok), max_seq_len=128, special_ids=special_ids(tok), seed=0)
    if args.objective == "mdm" and model.mask_id is None:
        raise SystemExit(f"--objective mdm needs a masked-diffusion family, not {args.family}")
    ids, starts, answers = skill_stream(tok, task_items(args.task, 20000, "train"))
    streams = {"skills": ids, "skill_starts": starts, "skill_answers": answers}
    # The tiny-llada recipe: skill rows only, SFT-style for masked diffusion, half the steps short.
    settings = TrainSettings(objective=args.objective, steps=args.steps, batch_size=32, lr=args.lr, warmup=30,
                             text_fraction=0.0, seq_len=128, seed=0, short_fraction=0.5,
                             sft_fraction=1.0 if args.objective == "mdm" else 0.0)
    held_out = task_items(args.task, 200, "heldout")
    print(f"task={args.task} {args.family} {args.objective} lr={args.lr} (chance 0.25)")

    def report(entry: dict) -> None:
        score = accuracy(model, tok, held_out, args.objective)
        print(f"step {entry['step']:5d}  loss {entry['loss']:.3f}  accuracy {score:.2f}", flush=True)

    train(model, streams, settings, log_every=args.every, on_log=report)


if __name__ == "__main__":
    main()
