"""How many steps a tiny model needs to learn the 24 category facts of the mmlu counterpart.

Dev evidence behind two choices of the mini zoo (``config/mini.yaml``, README "Mini zoo"):
the init scale (``arch.init_std``) and why the LLaDA-lineage stand-ins stay at chance on the
relational mini tasks. Each run trains one model on rows of ``--pack`` fact lines
(``"fox is a kind of animal"``; optional random-length digit prefix so lines do not sit at fixed
positions) and prints, every ``--every`` steps, how many of the 24 facts the model answers
(argmax over the six categories, the answer slot masked for masked diffusion, the next token for
AR). Run from the repo root after ``snakemake results/data/tokenizer``::

    python bench/fact_learning.py --family qwen2 --objective ar --init-std 0.02 --steps 1000
    python bench/fact_learning.py --family llada --objective mdm --init-std 0.08 --steps 1000
"""

from __future__ import annotations

import argparse
import random

import torch

from sinkprune.data.skills import CATEGORIES
from sinkprune.data.tokenizer import load_tokenizer, special_ids
from sinkprune.models import build_model
from sinkprune.models.train import ar_loss, mdm_loss

ARCH = {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512, "tie_embeddings": True}


def fact_rows(tok, pack: int, n_rows: int, shift: bool, seed: int) -> torch.Tensor:
    """[n_rows, L] BOS-first rows of ``pack`` random fact lines, EOS-filled."""
    rng = random.Random(seed)
    pairs = [(w, c) for c, words in CATEGORIES.items() for w in words]
    newline = tok("\n", add_special_tokens=False)["input_ids"]
    length = 12 * pack + (10 if shift else 0)
    rows = torch.full((n_rows, length), tok.eos_token_id)
    rows[:, 0] = tok.bos_token_id
    for i in range(n_rows):
        prefix = []
        if shift:  # 0-7 digits, so the facts start at varying positions
            prefix = tok(" ".join(str(rng.randrange(10)) for _ in range(rng.randrange(8))) + "\n",
                         add_special_tokens=False)["input_ids"]
        lines = [tok(f"{w} is a kind of {c}", add_special_tokens=False)["input_ids"]
                 for w, c in (rng.choice(pairs) for _ in range(pack))]
        seq = (prefix + sum((line + newline for line in lines), [])[:-1])[: length - 1]
        rows[i, 1:1 + len(seq)] = torch.tensor(seq)
    return rows


@torch.no_grad()
def facts_known(model, tok, objective: str) -> int:
    """Facts (of 24) whose category is the model's top choice among the six."""
    cats = sorted(CATEGORIES)
    cat_ids = [tok(" " + c, add_special_tokens=False)["input_ids"][0] for c in cats]
    model.eval()
    right = 0
    for category, words in CATEGORIES.items():
        for word in words:
            prompt = [tok.bos_token_id] + tok(f"{word} is a kind of", add_special_tokens=False)["input_ids"]
            if objective == "ar":
                logits = model(torch.tensor([prompt]))[0, -1]
            else:
                logits = model.position_logits(torch.tensor([prompt + [model.mask_id]]))[0, -1]
            right += cats[int(logits[cat_ids].argmax())] == category
    model.train()
    return right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="llada", choices=["llada", "dream", "qwen2", "llama"])
    parser.add_argument("--objective", default="mdm", choices=["mdm", "ar"])
    parser.add_argument("--init-std", type=float, default=0.08)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--pack", type=int, default=4)
    parser.add_argument("--shift", action="store_true", help="random-length prefix before the facts")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--tokenizer", default="results/data/tokenizer")
    args = parser.parse_args()

    torch.set_num_threads(1)
    tok = load_tokenizer(args.tokenizer)
    model = build_model(args.family, ARCH | {"init_std": args.init_std}, vocab_size=len(tok), max_seq_len=128,
                        special_ids=special_ids(tok), seed=0)
    if args.objective == "mdm" and model.mask_id is None:
        raise SystemExit(f"--objective mdm needs a masked-diffusion family, not {args.family}")
    rows = fact_rows(tok, args.pack, 1000, args.shift, seed=0)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95))
    model.train()
    print(f"{args.family} {args.objective} init_std={args.init_std} pack={args.pack} shift={args.shift}")
    for step in range(1, args.steps + 1):
        ids = rows[torch.randint(len(rows), (32,), generator=generator)]
        loss = ar_loss(model, ids) if args.objective == "ar" else mdm_loss(model, ids, generator, 1e-3)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.every == 0:
            print(f"step {step:5d}  loss {loss.item():.3f}  facts known {facts_known(model, tok, args.objective)}/24",
                  flush=True)


if __name__ == "__main__":
    main()
