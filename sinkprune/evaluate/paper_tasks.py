"""The paper's benchmarks as lm-eval (pinned 0.4.13) task names, and their mini counterparts.

Data to copy into ``config/paper.yaml`` (``eval.tasks`` and ``eval.num_fewshot``). Shots are the
paper's (method.md §7); GSM8K has no shot count in the paper's text, so lm-eval's own default for
``gsm8k`` (5) is kept (LLaDA's report used 4: an unconfirmed difference, noted in the audit).
``arc_easy`` appears only in the structured-pruning table.
"""

from __future__ import annotations

PAPER_TASKS: list[str] = [
    "mmlu", "arc_challenge", "piqa", "winogrande", "gsm8k", "hellaswag", "gpqa_main_n_shot", "race",
]
STRUCTURED_EXTRA_TASKS: list[str] = ["arc_easy"]

PAPER_NUM_FEWSHOT: dict[str, int] = {
    "mmlu": 5, "arc_challenge": 0, "piqa": 0, "winogrande": 5, "gsm8k": 5, "hellaswag": 0,
    "gpqa_main_n_shot": 5, "race": 0, "arc_easy": 0,
}

# lm-eval's WikiText-2 task (loglikelihood_rolling). The perplexity the release reports after
# pruning is its own Monte-Carlo formula instead: sinkprune/evaluate/perplexity.py (rule perplexity).
PERPLEXITY_TASK = "wikitext"

MINI_COUNTERPART: dict[str, str] = {
    "mmlu": "mini_mmlu", "arc_challenge": "mini_arc_challenge", "piqa": "mini_piqa",
    "winogrande": "mini_winogrande", "gsm8k": "mini_gsm8k", "hellaswag": "mini_hellaswag",
    "gpqa_main_n_shot": "mini_gpqa", "race": "mini_race",
}
