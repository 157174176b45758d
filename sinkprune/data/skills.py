"""Deterministic synthetic "skills" a ~1M-parameter model learns in minutes of CPU training.

Why: a tiny model trained a few minutes on natural text stays near unigram entropy, so tasks
built on text alone sit at chance and pruning differences would be noise (scales.md). Each skill
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


@dataclass(frozen=True)
class Item:
    """One skill example: ``prompt + answer`` is the training line.

    ``distractors`` are wrong answers in the same format, most plausible first (the task
    builder takes as many as its benchmark has options). ``meta`` holds skill-specific fields
    (the WinoGrande-style split of ``bind``).
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


def bind(rng: random.Random) -> Item:
    """Name–value binding ``"if ann3 and bob7 ; bob7"`` (WinoGrande counterpart).

    Stored as a WinoGrande-style pair: the option is the name after ``;`` and the scored
    continuation is the value ``V``; ``meta`` carries both names and the right option. The
    value follows its name directly, so the lookup is one induction step (find the earlier
    copy of the current token, read the next one); the mini models have not learnt it yet.
    """
    first, second = rng.sample(NAMES, 2)
    v1, v2 = rng.sample(range(1, 10), 2)
    asked = rng.randrange(2)
    name, value = (first, v1) if asked == 0 else (second, v2)
    stem = f"if {first}{v1} and {second}{v2} ; "
    prompt = stem + name
    meta = {"stem": stem, "options": [first, second], "label": asked, "continuation": str(value)}
    return Item("bind", prompt, str(value), (str(v2 if asked == 0 else v1),), meta)


def recall(rng: random.Random) -> Item:
    """Key→value recall from a passage ``"keys b7 q2 x5 , q2"`` (RACE counterpart).

    As in ``bind``, each value directly follows its key (one induction step). Distractors: the
    passage's other two values first (the plausible misreadings), then a
    digit not in the passage."""
    keys = rng.sample(KEYS, 3)
    values = rng.sample(range(10), 4)  # the fourth value is the outside distractor
    asked = rng.randrange(3)
    passage = " ".join(f"{k}{v}" for k, v in zip(keys, values))
    others = [v for i, v in enumerate(values[:3]) if i != asked]
    return Item("recall", f"keys {passage} , {keys[asked]}", str(values[asked]),
                tuple(str(v) for v in rng.sample(others, 2) + [values[3]]))


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
    "bind": bind, "recall": recall, "sort": sort3,
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
