"""How many steps a tiny model needs to learn the 24 category facts of the mmlu counterpart.

The measurement behind three choices of the mini zoo (``config/mini.yaml``; docs/mini.md): the
init scale (``arch.init_std``), LLaDA's ``init_fn`` and SFT-style rows (``train.sft_fraction``).
Each run trains one model on rows of ``--pack`` fact lines (``"fox is a kind of animal"``;
optional random-length digit prefix so lines do not sit at fixed positions) and prints, every
``--every`` steps:

- ``facts known``: of the 24 facts asked alone (``"fox is a kind of"``), how many the model
  answers (argmax over the six categories; the answer slot masked for masked diffusion, the
  next token for AR);
- ``in rows`` (masked diffusion): answers recovered in 50 held-out rows of the training format
  with every answer masked and everything else visible.

``--sft`` noises rows as LLaDA's SFT does (only answers maskable). Run from the repo root after
``snakemake results/data/tokenizer``::

    python bench/fact_learning.py --family qwen2 --objective ar --init-std 0.02 --steps 1000
    python bench/fact_learning.py --family llada --init-fn normal --lr 1e-3 --steps 400
    python bench/fact_learning.py --family llada --init-fn mitchell --lr 1e-3 --steps 400 --sft
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


def category_ids(tok) -> list[int]:
    """Token id of each category word as it follows ``"of"`` (sorted category order)."""
    return [tok(" " + c, add_special_tokens=False)["input_ids"][0] for c in sorted(CATEGORIES)]


@torch.no_grad()
def answers_in_rows(model, rows: torch.Tensor, answer_ids: list[int]) -> tuple[int, int]:
    """(recovered, total) answers of ``rows`` with every answer masked at once."""
    is_answer = torch.isin(rows, torch.tensor(answer_ids))
    model.eval()
    predicted = model.position_logits(rows.masked_fill(is_answer, model.mask_id)).argmax(-1)
    model.train()
    return int((predicted == rows)[is_answer].sum()), int(is_answer.sum())


@torch.no_grad()
def facts_known(model, tok, objective: str) -> int:
    """Facts (of 24) whose category is the model's top choice among the six."""
    cats, cat_ids = sorted(CATEGORIES), category_ids(tok)
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
    parser.add_argument("--init-fn", default="mitchell", choices=["mitchell", "normal"],
                        help="llada only: LLaDA's init_fn (normal = init_std everywhere)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--pack", type=int, default=4)
    parser.add_argument("--shift", action="store_true", help="random-length prefix before the facts")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--sft", action="store_true", help="mask only answers (LLaDA's SFT noising)")
    parser.add_argument("--tokenizer", default="results/data/tokenizer")
    args = parser.parse_args()

    torch.set_num_threads(1)
    tok = load_tokenizer(args.tokenizer)
    arch = ARCH | {"init_std": args.init_std} | ({"init_fn": args.init_fn} if args.family == "llada" else {})
    model = build_model(args.family, arch, vocab_size=len(tok), max_seq_len=128,
                        special_ids=special_ids(tok), seed=0)
    if args.objective == "mdm" and model.mask_id is None:
        raise SystemExit(f"--objective mdm needs a masked-diffusion family, not {args.family}")
    rows = fact_rows(tok, args.pack, 1000, args.shift, seed=0)
    held_out = fact_rows(tok, args.pack, 50, args.shift, seed=1)
    answer_ids = category_ids(tok)
    maskable = torch.isin(rows, torch.tensor(answer_ids)) if args.sft else torch.ones_like(rows, dtype=torch.bool)
    if args.sft and args.objective != "mdm":
        raise SystemExit("--sft needs --objective mdm")
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95))
    model.train()
    print(f"{args.family} {args.objective} init_std={args.init_std} init_fn={args.init_fn} lr={args.lr} "
          f"pack={args.pack} shift={args.shift} sft={args.sft}")
    for step in range(1, args.steps + 1):
        pick = torch.randint(len(rows), (32,), generator=generator)
        ids = rows[pick]
        loss = ar_loss(model, ids) if args.objective == "ar" else mdm_loss(model, ids, generator, 1e-3, maskable[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.every == 0:
            in_rows = ""
            if args.objective == "mdm":
                in_rows = "  in rows {}/{}".format(*answers_in_rows(model, held_out, answer_ids))
            print(f"step {step:5d}  loss {loss.item():.3f}  facts known {facts_known(model, tok, args.objective)}/24"
                  + in_rows, flush=True)


if __name__ == "__main__":
    main()
