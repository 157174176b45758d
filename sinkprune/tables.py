"""Tables stage: evaluation JSONs + prune reports → results/tables/main.csv and LaTeX.

One tidy row per model × method × sparsity × task, with the reported metric's value and stderr in
percent, both accuracies (``acc``, ``acc_norm``) beside it whenever lm-eval computed them, the
task's chance level, and the achieved sparsity from the prune report.

Which accuracy the table reports (``metric``/``value``) is stated per task in ``TABLE_METRIC``.
The release does not say which of lm-eval's two accuracies its README reports. HellaSwag is
``acc_norm``: the published dense 72.70 matches LLaDA's own lm-eval HellaSwag (72.5 with
CFG, ML-GSAI/LLaDA EVAL.md), and HellaSwag ``acc`` of 8B models lies ~15 points under
``acc_norm``. Every other task reports ``acc`` (MMLU, WinoGrande, RACE: lm-eval computes only
``acc``; ARC-C, ARC-E, PIQA, GPQA: unconfirmed, ``acc_norm`` is one column away).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from sinkprune.config import load_config
from sinkprune.stage_parser import stage_parser

# Primary metric per lm-eval output, in order of preference (multiple choice, then generation).
PRIMARY_METRICS = ("acc", "exact_match")
# The accuracy the table reports per task (paper task and its mini counterpart); others: PRIMARY_METRICS.
TABLE_METRIC: dict[str, str] = {"hellaswag": "acc_norm", "mini_hellaswag": "acc_norm"}
BOTH_ACCURACIES = ("acc", "acc_norm")
COLUMNS = ["model", "standin_for", "method", "sparsity", "achieved_sparsity", "task", "metric",
           "value", "stderr", "chance", "n", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr"]


def eval_key(path: Path) -> tuple[str, str, str]:
    """(model, method, sparsity) of ``results/eval/{model}/{method}/{sparsity}.json``."""
    return path.parent.parent.name, path.parent.name, path.stem


def _percent(res: dict, metric: str) -> tuple[float, float]:
    """(value, stderr) of ``metric`` in percent, NaN where lm-eval did not report it."""
    key = next((k for k in sorted(res) if k.split(",")[0] == metric), None)
    if key is None or not isinstance(res[key], (int, float)):
        return math.nan, math.nan
    filt = key.split(",", 1)[1] if "," in key else ""
    stderr = res.get(f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr")
    return 100.0 * float(res[key]), 100.0 * float(stderr) if isinstance(stderr, (int, float)) else math.nan


def primary_metric(task_results: dict, task: str | None = None) -> tuple[str, str]:
    """The (metric, lm-eval key) reported for a task, e.g. ('acc', 'acc,none'): ``TABLE_METRIC``
    when the task is listed there and reports it, else the first of ``PRIMARY_METRICS``."""
    chosen = TABLE_METRIC.get(task or "")
    for metric in ((chosen,) if chosen else ()) + PRIMARY_METRICS:
        for key in sorted(task_results):
            if key.split(",")[0] == metric:
                return metric, key
    raise KeyError(f"no metric among {PRIMARY_METRICS} in {sorted(task_results)}")


def rows_from_eval(path: Path, achieved: float | None, standin_for: str) -> list[dict]:
    """Tidy rows of one evaluation file."""
    data = json.loads(Path(path).read_text())
    model, method, sparsity = eval_key(Path(path))
    rows = []
    for task, res in sorted(data["results"].items()):
        metric, key = primary_metric(res, task)
        filt = key.split(",", 1)[1] if "," in key else ""
        stderr = res.get(f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr")
        stderr = float(stderr) if isinstance(stderr, (int, float)) else math.nan
        chance = data.get("chance", {}).get(task, math.nan)
        n = data.get("n-samples", {}).get(task, {}).get("effective", math.nan)
        rows.append({"model": model, "standin_for": standin_for, "method": method, "sparsity": sparsity,
                     "achieved_sparsity": achieved, "task": task, "metric": metric,
                     "value": 100.0 * float(res[key]), "stderr": 100.0 * stderr,
                     "chance": 100.0 * float(chance), "n": n}
                    | {col: v for m in BOTH_ACCURACIES
                       for col, v in zip((m, f"{m}_stderr"), _percent(res, m))})
    return rows


def achieved_sparsities(reports: list[Path]) -> dict[tuple[str, str, str], float]:
    """Overall achieved sparsity from each ``results/prune/{model}/{method}/{sparsity}/report.json``."""
    out = {}
    for path in reports:
        path = Path(path)
        key = (path.parents[2].name, path.parents[1].name, path.parent.name)
        out[key] = float(json.loads(path.read_text())["overall_sparsity"])
    return out


def main_table(evals: list[Path], reports: list[Path], models: dict) -> pd.DataFrame:
    """The main results table, sorted by model, method, sparsity, task."""
    achieved = achieved_sparsities(reports)
    rows = []
    for path in evals:
        key = eval_key(Path(path))
        spec = models.get(key[0], {})
        dense = 0.0 if key[1] == "dense" else None
        rows += rows_from_eval(Path(path), achieved.get(key, dense), spec.get("standin_for", key[0]))
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(["model", "method", "sparsity", "task"], kind="stable").reset_index(drop=True)


def to_latex(df: pd.DataFrame, decimals: int) -> str:
    """Model × method × sparsity rows, task columns plus the average, cells 'value ± stderr'."""
    def cell(r: pd.Series) -> str:
        if math.isnan(r["stderr"]):
            return f"{r['value']:.{decimals}f}"
        return f"{r['value']:.{decimals}f} $\\pm$ {r['stderr']:.{decimals}f}"

    wide = df.assign(cell=df.apply(cell, axis=1)).pivot_table(
        index=["model", "method", "sparsity"], columns="task", values="cell", aggfunc="first")
    avg = df.groupby(["model", "method", "sparsity"])["value"].mean().map(lambda v: f"{v:.{decimals}f}")
    wide["Avg"] = avg
    chance = df.groupby("task")["chance"].first()
    header = " & ".join(["Model", "Method", "Sparsity"] + [t.replace("_", r"\_") for t in wide.columns])
    chance_row = " & ".join(["\\multicolumn{3}{l}{\\emph{chance}}"]
                            + [f"{chance.get(t, math.nan):.{decimals}f}" if t in chance else "" for t in wide.columns])
    lines = [f"\\begin{{tabular}}{{lll{'r' * len(wide.columns)}}}", "\\toprule", header + r" \\",
             "\\midrule", chance_row + r" \\", "\\midrule"]
    for (model, method, sparsity), row in wide.iterrows():
        cells = [model, method.replace("_", r"\_"), sparsity] + [str(row[c]) if isinstance(row[c], str) else "--" for c in wide.columns]
        lines.append(" & ".join(cells) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``sinkprune tables main --config C --evals ... --reports ... --csv F --tex F``."""
    parser, steps = stage_parser("tables", __doc__, {"main": "the main accuracy table"}, dest="table")
    p = steps["main"]
    p.add_argument("--config", required=True)
    p.add_argument("--evals", nargs="+", required=True)
    p.add_argument("--reports", nargs="*", default=[])
    p.add_argument("--csv", required=True)
    p.add_argument("--tex", required=True)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    df = main_table([Path(p) for p in args.evals], [Path(p) for p in args.reports], config["models"])
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.csv, index=False, float_format="%.6g")
    Path(args.tex).parent.mkdir(parents=True, exist_ok=True)
    Path(args.tex).write_text(to_latex(df, int(config["tables"]["decimals"])))
    print(f"main table: {len(df)} rows")


if __name__ == "__main__":
    main()
