"""Deterministic synthetic "skills" a ~1M-parameter model learns in minutes of CPU training.

Why: a tiny model trained a few minutes on natural text stays near unigram entropy, so tasks
built on text alone sit at chance and pruning differences would be noise (docs/mini.md). Each skill
is a tiny closed world whose rendered lines go into the training mix and whose items (with
plausible distractors) become the mini evaluation tasks built by ``sinkprune.evaluate.tasks``.

Every skill is a function ``skill(rng) -> Item`` drawing from a ``random.Random``; rendering is
``item.prompt + item.answer`` (one short line, ≤ 60 characters), so the evaluation prompt is
exactly the prefix the model saw in training. Tokens: digits are one token each
(``sinkprune.data.tokenizer``), so numbers are compared digit by digit. A name or key that the
model must look up later never starts a line: the BPE gives ``"ivy"`` and ``" ivy"`` different
ids, and a lookup across two spellings is a much harder skill than the one meant.

Item spaces are small (e.g. 24 category facts, a 10×10 addition table): evaluation items can coincide with
training lines. The mini tasks measure how much of a learned skill survives pruning, not
generalisation to unseen items.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

# A small closed world of category facts (the MMLU counterpart's "knowledge").
CATEGORIES: dict[str, tuple[str, ...]] = {
    "animal": ("fox", "cat", "dog", "owl"),
    "color": ("red", "blue", "green", "pink"),
    "fruit": ("apple", "pear", "plum", "fig"),
    "tool": ("saw", "axe", "drill", "rake"),
    "metal": ("iron", "zinc", "tin", "lead"),
    "city": ("paris", "rome", "oslo", "lima"),
}
NAMES: tuple[str, ...] = ("ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lou")
KEYS: tuple[str, ...] = tuple("bcdfghjklmnpqrstvwxz")
# Sizes of 16 things (the WinoGrande counterpart's commonsense).
SIZES: dict[str, tuple[str, ...]] = {
    "large": ("whale", "truck", "house", "ship", "tower", "bear", "bus", "barn"),
    "small": ("ant", "coin", "bee", "pin", "seed", "mouse", "ring", "bead"),
}
# Eight routines of seven steps (the HellaSwag counterpart); some steps occur in two routines.
SCRIPTS: dict[str, tuple[str, ...]] = {
    "bake": ("mix", "pour", "heat", "wait", "cool", "cut", "serve"),
    "wash": ("soak", "scrub", "rinse", "wring", "hang", "dry", "fold"),
    "plant": ("dig", "sow", "cover", "water", "wait", "grow", "pick"),
    "travel": ("pack", "lock", "walk", "board", "sit", "land", "unpack"),
    "write": ("think", "draft", "type", "read", "edit", "print", "send"),
    "paint": ("sand", "wipe", "prime", "paint", "dry", "check", "hang"),
    "cook": ("chop", "fry", "stir", "taste", "salt", "serve", "eat"),
    "build": ("plan", "measure", "frame", "nail", "glue", "paint", "sell"),
}


@dataclass(frozen=True)
class Item:
    """One skill example: ``prompt + answer`` is the training line.

    ``distractors`` are wrong answers in the same format, most plausible first (the task
    builder takes as many as its benchmark has options). ``meta`` holds skill-specific fields
    (the WinoGrande-style split of ``trait``).
    """

    skill: str
    prompt: str
    answer: str
    distractors: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    @property
    def line(self) -> str:
        """The rendered training line."""
        return self.prompt + self.answer


def _distinct(values: list[int], k: int, rng: random.Random) -> list[int]:
    """``k`` distinct values of ``values`` in random order."""
    return rng.sample(sorted(set(values)), k)


def fact(rng: random.Random) -> Item:
    """Category membership: ``"fox is a kind of animal"``; distractors are other categories."""
    category = rng.choice(sorted(CATEGORIES))
    word = rng.choice(CATEGORIES[category])
    others = rng.sample([c for c in sorted(CATEGORIES) if c != category], 3)
    return Item("fact", f"{word} is a kind of", f" {category}", tuple(f" {c}" for c in others))


def maxof(rng: random.Random) -> Item:
    """Largest of four 2-digit numbers: ``"max of 47 12 85 30 is 85"``; distractors the others."""
    nums = rng.sample(range(10, 100), 4)
    best = max(nums)
    others = [n for n in nums if n != best]
    return Item("maxof", f"max of {' '.join(map(str, nums))} is", f" {best}", tuple(f" {n}" for n in others))


def add(rng: random.Random) -> Item:
    """One-digit addition ``"7+5=12"`` (a 100-entry table); distractors are off by 1 or 2."""
    a, b = rng.randrange(10), rng.randrange(10)
    c = a + b
    near = [c + 1, c - 1, c + 2, c - 2, c + 3]
    wrong = [n for n in near if 0 <= n != c]
    picked = _distinct(wrong[:4], 3, rng)
    return Item("add", f"{a}+{b}=", str(c), tuple(str(n) for n in picked))


def story(rng: random.Random) -> Item:
    """One-step word problem ``"ann has 3, gets 5 more, now has 8"`` (GSM8K counterpart)."""
    name = rng.choice(NAMES)
    a, b = rng.randrange(1, 10), rng.randrange(1, 10)
    c = a + b
    # Wrong: off by one, or the starting amount (the "forgot to add" error) unless that is c − 1.
    wrong = [c + 1, c - 1, a if a != c - 1 else c + 2]
    return Item("story", f"{name} has {a}, gets {b} more, now has", f" {c}", tuple(f" {n}" for n in wrong))


def trait(rng: random.Random) -> Item:
    """Which of two things has a size, WinoGrande style: ``"the whale and the ant ; the ant is small"``.

    Stored as a WinoGrande pair: the options are the two things, each filling the blank after
    ``; the``, and the scored continuation is ``" is large"`` or ``" is small"``; ``meta``
    carries the stem, both options and the right one. Which thing fits is commonsense of a closed
    world (:data:`SIZES`, 16 things), learned from these lines as ``fact`` is; the twin item with
    the other size word has the other answer, as WinoGrande's twin sentences do.
    """
    large, small = rng.choice(SIZES["large"]), rng.choice(SIZES["small"])
    first, second = rng.sample([large, small], 2)
    size = rng.choice(sorted(SIZES))
    thing = large if size == "large" else small
    stem = f"the {first} and the {second} ; the "
    other = "small" if size == "large" else "large"
    meta = {"stem": stem, "options": [first, second], "label": [first, second].index(thing),
            "continuation": f" is {size}"}
    return Item("trait", stem + thing, f" is {size}", (f" is {other}",), meta)


def listed(rng: random.Random) -> Item:
    """Which key a passage lists, RACE style: ``"keys b q x m , one is q"``.

    The answer is one of the passage's four keys (any one of them is right in training), the
    distractors are three keys it does not list, so only the passage tells them apart. Reading
    the passage is one attention step (copy a token of this line). A key→value lookup
    (``"keys b7 q2 , q"`` → ``2``) needs two composed steps, an induction head, and the mini
    models did not learn it in budget: trained on such lines alone, the mini llada model stayed
    at chance for 1400 steps and the AR model reached 38 % (chance 25 %) at step 600
    (``bench/lookup_learning.py``; docs/mini.md, "Why every task rests on a one-step skill").
    """
    keys = rng.sample(KEYS, 7)
    shown, outside = keys[:4], keys[4:]
    return Item("listed", f"keys {' '.join(shown)} , one is", f" {rng.choice(shown)}",
                tuple(f" {k}" for k in outside))


def script(rng: random.Random) -> Item:
    """The next four steps of a routine, HellaSwag style: ``"to bake: mix pour"`` →
    ``" heat wait cool cut"``; distractors are other orders of the same four steps.

    A closed world of eight routines (:data:`SCRIPTS`) seen in training; several steps occur
    in more than one routine, so the routine named in the context decides the order. The wrong
    endings use the same words (same tokens, so ``acc`` is fair), like HellaSwag's endings that
    are plausible word by word.
    """
    name = rng.choice(sorted(SCRIPTS))
    steps = SCRIPTS[name]
    k = rng.randint(1, len(steps) - 4)
    ending = steps[k:k + 4]
    orders = sorted(set(itertools.permutations(ending)) - {ending})
    return Item("script", f"to {name}: {' '.join(steps[:k])}", " " + " ".join(ending),
                tuple(" " + " ".join(o) for o in rng.sample(orders, 3)))


def sort3(rng: random.Random) -> Item:
    """Sort three digits ``"sort 5 2 8 : 2 5 8"``; distractor swaps two adjacent outputs (PIQA)."""
    digits = rng.sample(range(10), 3)
    out = sorted(digits)
    i = rng.randrange(2)
    wrong = out[:i] + [out[i + 1], out[i]] + out[i + 2:]
    return Item("sort", f"sort {' '.join(map(str, digits))} :", " " + " ".join(map(str, out)),
                (" " + " ".join(map(str, wrong)),))


SKILLS: dict[str, Callable[[random.Random], Item]] = {
    "fact": fact, "maxof": maxof, "add": add, "story": story,
    "trait": trait, "listed": listed, "sort": sort3, "script": script,
}


def items(skill: str, n: int, seed: int | str) -> list[Item]:
    """``n`` items of one skill, deterministic from ``seed`` (task builder: held-out seed)."""
    if skill not in SKILLS:
        raise KeyError(f"unknown skill {skill!r}; known: {', '.join(SKILLS)}")
    # String seeds hash deterministically in random.Random (sha512), unlike hash().
    rng = random.Random(f"{skill}:{seed}")
    return [SKILLS[skill](rng) for _ in range(n)]


def training_items(n: int, seed: int) -> list[Item]:
    """``n`` skill examples, skills interleaved round-robin then shuffled (deterministic from
    ``seed``); the training mix packs their lines into BOS-first sequences."""
    per = [items(s, -(-n // len(SKILLS)), seed) for s in SKILLS]
    examples = [it for group in zip(*per) for it in group][:n]
    random.Random(f"shuffle:{seed}").shuffle(examples)
    return examples


def training_lines(n: int, seed: int) -> list[str]:
    """The rendered lines of :func:`training_items`, one example per line."""
    return [it.line for it in training_items(n, seed)]
