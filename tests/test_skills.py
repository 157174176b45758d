"""Synthetic skills: deterministic, short, answers distinct from distractors, correct answers."""

import re

import pytest

from sinkprune.data.skills import CATEGORIES, SCRIPTS, SIZES, SKILLS, items, training_lines


def test_training_lines_are_deterministic_short_and_mixed():
    lines = training_lines(800, seed=3)
    assert lines == training_lines(800, seed=3)
    assert lines != training_lines(800, seed=4)
    assert len(lines) == 800
    assert max(len(line) for line in lines) <= 60
    assert all("\n" not in line for line in lines)
    # Every skill is represented in the mix (round-robin before shuffling).
    assert len({it.skill for s in SKILLS for it in items(s, 1, 0)}) == len(SKILLS)
    assert sum(line.startswith("sort ") for line in lines) == 100


@pytest.mark.parametrize("skill", sorted(SKILLS))
def test_items_have_distinct_plausible_distractors(skill):
    for item in items(skill, 200, seed="eval:0"):
        assert item.answer not in item.distractors
        assert len(set(item.distractors)) == len(item.distractors) >= 1
        assert item.line == item.prompt + item.answer
        # Distractors are in the answer's format, so the choice is not decided by form alone.
        shape = re.sub(r"[0-9]", "0", item.answer).replace(" ", "")
        if skill not in ("fact",):
            assert all(len(re.sub(r"[0-9]", "0", d).replace(" ", "")) in (len(shape), len(shape) - 1, len(shape) + 1)
                       for d in item.distractors), (item, shape)


def test_answers_are_correct():
    for it in items("add", 100, 1):
        a, b = map(int, it.prompt.rstrip("=").split("+"))
        assert int(it.answer) == a + b
    for it in items("maxof", 100, 1):
        nums = [int(n) for n in it.prompt.split()[2:6]]
        assert int(it.answer) == max(nums)
    for it in items("sort", 100, 1):
        digits = it.prompt.split(":")[0].split()[1:]
        assert it.answer.split() == sorted(digits)
    for it in items("listed", 100, 1):
        passage = it.prompt.removeprefix("keys ").removesuffix(" , one is").split()
        assert len(passage) == 4 and it.answer.strip() in passage
        assert not any(d.strip() in passage for d in it.distractors)
    for it in items("fact", 100, 1):
        word = it.prompt.split()[0]
        assert word in CATEGORIES[it.answer.strip()]
    for it in items("trait", 100, 1):
        stem, thing = it.prompt.split(" ; the ")
        assert thing in SIZES[it.answer.removeprefix(" is ")]
        assert it.meta["options"][it.meta["label"]] == thing
        assert sorted(stem.removeprefix("the ").split(" and the ")) == sorted(it.meta["options"])
        assert it.meta["continuation"] == it.answer
    for it in items("script", 100, 1):
        name, begun = it.prompt.removeprefix("to ").split(": ")
        steps = begun.split() + it.answer.split()
        assert tuple(steps) == SCRIPTS[name][:len(steps)] and len(it.answer.split()) == 4
        assert all(sorted(d.split()) == sorted(it.answer.split()) for d in it.distractors)
    for it in items("story", 100, 1):
        nums = [int(n) for n in re.findall(r"\d+", it.prompt)]
        assert int(it.answer) == nums[0] + nums[1]


def test_unknown_skill_is_named():
    with pytest.raises(KeyError, match="nope"):
        items("nope", 1, 0)


def test_looked_up_names_are_spelt_alike_in_passage_and_question():
    # A BPE gives "ivy" and " ivy" different ids: every key or name the question repeats must
    # appear after a space in the passage too, or the lookup spans two spellings.
    for it in items("listed", 100, 2):
        assert f"{it.answer} " in it.prompt.split(" , ")[0] + " "
    for it in items("trait", 100, 2):
        for thing in it.meta["options"]:
            assert f" {thing}" in it.meta["stem"]
