"""Offline mini counterparts of the paper's eight benchmarks, as lm-eval task YAML + JSONL.

Each mini task keeps its benchmark's output type, number of options and number of shots, and is
built from one synthetic skill (``sinkprune.data.skills``) the mini models were trained on.
They are *stand-ins*: ``mini_mmlu`` measures recall of a tiny closed world of category facts,
not MMLU knowledge; every table must say so.

Files written per task into ``out_dir``:
``{task}.jsonl`` (test split), ``{task}.fewshot.jsonl`` (few-shot pool, tasks with shots only),
``{task}.yaml`` (lm-eval config), and one ``tasks.json`` sidecar with chance level, counterpart
and sha256 of every task. Few-shot examples come from a different seed than test items.
The YAML's data_files are file names relative to its own directory, so the files are the same
bytes wherever the clone lives; lm-eval would resolve them against the working directory, so
:func:`sinkprune.evaluate.run.resolve_tasks` makes them absolute when it loads the task.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from sinkprune.data.skills import Item, items

SIDE_CAR = "tasks.json"
FEWSHOT_POOL = 50  # few-shot candidates per task; lm-eval samples the shots from them


@dataclass(frozen=True)
class MiniTask:
    """How one mini task mirrors its paper benchmark."""

    counterpart_of: str  # lm-eval task name of the paper benchmark
    source: str  # skill name (sinkprune.data.skills.SKILLS)
    kind: str  # "mc" | "partial" (WinoGrande style) | "gen"
    num_choices: int  # 0 for generation
    num_fewshot: int
    description: str

    @property
    def chance(self) -> float:
        """Accuracy of uniform guessing (generation: 0, any answer string is possible)."""
        return 1.0 / self.num_choices if self.num_choices else 0.0


MINI_TASKS: dict[str, MiniTask] = {
    "mini_mmlu": MiniTask("mmlu", "fact", "mc", 4, 5, "category of a word in a closed world of 24 facts"),
    "mini_arc_challenge": MiniTask("arc_challenge", "maxof", "mc", 4, 0, "largest of four 2-digit numbers"),
    "mini_piqa": MiniTask("piqa", "sort", "mc", 2, 0, "sorted digits vs. a near-miss ordering"),
    "mini_winogrande": MiniTask("winogrande", "trait", "partial", 2, 5,
                                "which of two things is large or small (option fills the blank, continuation scored)"),
    "mini_gsm8k": MiniTask("gsm8k", "story", "gen", 0, 5, "one-step addition word problem, generated answer"),
    "mini_hellaswag": MiniTask("hellaswag", "script", "mc", 4, 0,
                               "next four steps of a routine vs. the same steps reordered"),
    "mini_gpqa": MiniTask("gpqa_main_n_shot", "add", "mc", 4, 5, "1-digit addition with off-by-1-to-3 distractors"),
    "mini_race": MiniTask("race", "listed", "mc", 4, 0, "which of four keys a four-key passage lists"),
}


# ----- documents ------------------------------------------------------------------------------
def _mc_doc(item: Item, num_choices: int, rng: random.Random) -> dict:
    """Multiple-choice document: answer plus the most plausible distractors, shuffled."""
    if len(item.distractors) < num_choices - 1:
        raise ValueError(f"skill {item.skill!r} gives {len(item.distractors)} distractors, need {num_choices - 1}")
    choices = [item.answer, *item.distractors[: num_choices - 1]]
    rng.shuffle(choices)
    return {"query": item.prompt, "choices": choices, "label": choices.index(item.answer)}


def _partial_doc(item: Item) -> dict:
    """WinoGrande-style document: one context per option, one shared continuation."""
    meta = item.meta
    return {"options": [meta["stem"] + name for name in meta["options"]], "label": meta["label"],
            "continuation": meta["continuation"]}


def _gen_doc(item: Item) -> dict:
    return {"question": item.prompt, "answer": item.answer.strip()}


def skill_docs(task: MiniTask, n: int, seed: str) -> list[dict]:
    """``n`` documents of a skill-based task, deterministic from ``seed``."""
    rng = random.Random(f"choices:{seed}")
    made = items(task.source, n, seed)
    if task.kind == "mc":
        return [_mc_doc(it, task.num_choices, rng) for it in made]
    if task.kind == "partial":
        return [_partial_doc(it) for it in made]
    return [_gen_doc(it) for it in made]


# ----- lm-eval YAML ---------------------------------------------------------------------------
def task_yaml(name: str, task: MiniTask, test_file: Path, fewshot_file: Path | None) -> dict:
    """lm-eval task config of a mini task (plain YAML: no ``!function``, so it loads anywhere)."""
    data_files = {"test": test_file.name}  # relative to the YAML's directory (module docstring)
    config: dict = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": data_files},
        "test_split": "test",
        "num_fewshot": task.num_fewshot,
        # Training lines are newline-separated; shots are joined the same way.
        "fewshot_delimiter": "\n",
        "metadata": {"version": 1.0, "chance": task.chance, "counterpart_of": task.counterpart_of,
                     "source": task.source, "description": f"mini counterpart of {task.counterpart_of}: "
                                                          f"{task.description}"},
    }
    if fewshot_file is not None:
        data_files["train"] = fewshot_file.name
        config["fewshot_split"] = "train"
    # Both accuracies on every multiple-choice task (acc_norm divides by the choice's length in
    # characters); the table states which one it reports per task (sinkprune/tables.py). Not on
    # the winogrande counterpart: there the choices are contexts and the scored continuation is
    # shared, so acc_norm would divide by the contexts' lengths (lm-eval's winogrande has acc only).
    both = [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in ("acc", "acc_norm")]
    if task.kind == "mc":
        config |= {"output_type": "multiple_choice", "doc_to_text": "{{query}}", "doc_to_choice": "choices",
                   "doc_to_target": "label", "target_delimiter": "",  # choices carry their own leading space
                   "metric_list": both}
    elif task.kind == "partial":
        # As lm-eval's winogrande: doc_to_text gives the right option's index, the options are
        # alternative contexts, and the shared continuation is what gets scored.
        config |= {"output_type": "multiple_choice", "doc_to_text": "label", "doc_to_choice": "options",
                   "doc_to_target": "continuation", "target_delimiter": "",
                   "metric_list": both[:1]}
    else:
        config |= {"output_type": "generate_until", "doc_to_text": "{{question}}", "doc_to_target": "{{answer}}",
                   "target_delimiter": " ",
                   "generation_kwargs": {"until": ["\n"], "do_sample": False, "temperature": 0.0},
                   # As gsm8k's flexible-extract: the first integer of the generation is the answer.
                   "filter_list": [{"name": "first-number", "filter": [
                       {"function": "regex", "regex_pattern": "(-?[0-9]+)"}, {"function": "take_first"}]}],
                   "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}]}
    return config


def _write_jsonl(path: Path, docs: list[dict]) -> None:
    path.write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in docs), encoding="utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_tasks(out_dir: str | Path, seed: int, n_items: int, tasks: list[str]) -> list[Path]:
    """Write ``tasks`` (names of :data:`MINI_TASKS`) into ``out_dir``; returns the YAML paths.

    Test items use seed ``eval:{seed}``, few-shot pools ``fewshot:{seed}``; the training mix
    uses the bare seed. Byte-identical output for the same arguments.
    """
    unknown = [t for t in tasks if t not in MINI_TASKS]
    if unknown:
        raise KeyError(f"unknown mini task(s) {', '.join(unknown)}; known: {', '.join(MINI_TASKS)}")
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, got {n_items}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    sidecar: dict[str, dict] = {}
    written = []
    for name in tasks:
        task = MINI_TASKS[name]
        test_file = out_dir / f"{name}.jsonl"
        _write_jsonl(test_file, skill_docs(task, n_items, f"eval:{seed}"))
        fewshot_file = None
        if task.num_fewshot:
            fewshot_file = out_dir / f"{name}.fewshot.jsonl"
            _write_jsonl(fewshot_file, skill_docs(task, FEWSHOT_POOL, f"fewshot:{seed}"))
        yaml_file = out_dir / f"{name}.yaml"
        yaml_file.write_text(yaml.safe_dump(task_yaml(name, task, test_file, fewshot_file), sort_keys=True),
                             encoding="utf-8")
        sidecar[name] = asdict(task) | {"chance": task.chance, "n_items": n_items,
                                        "test_sha256": _sha256(test_file),
                                        "fewshot_sha256": _sha256(fewshot_file) if fewshot_file else None}
        written.append(yaml_file)
    (out_dir / SIDE_CAR).write_text(json.dumps(sidecar, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return written


def chance_levels(tasks_dir: str | Path) -> dict[str, float]:
    """Chance level of every task recorded in a tasks directory's sidecar."""
    path = Path(tasks_dir) / SIDE_CAR
    if not path.exists():
        return {}
    return {k: v["chance"] for k, v in json.loads(path.read_text()).items()}
