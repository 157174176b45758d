"""Accuracy versus sparsity: one panel per task plus the task average, one line per method."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import seaborn as sns

from sinkprune.figures.save import save_figure
from sinkprune.prune.names import STRUCTURED


def unstructured_view(df: pd.DataFrame) -> pd.DataFrame:
    """Rows at unstructured sparsities (and dense as 0) with a numeric sparsity column.

    N:M and structured rows are in the table; a numeric x-axis only fits unstructured fractions.
    """
    out = df[~df["sparsity"].astype(str).str.contains("-")].copy()
    out = out[~out["method"].isin(STRUCTURED)]
    out["sparsity_num"] = out["sparsity"].astype(float)
    return out


def with_average(df: pd.DataFrame) -> pd.DataFrame:
    """Append the mean over tasks as a pseudo-task 'average' (its chance is the mean chance)."""
    keys = ["model", "method", "sparsity", "sparsity_num"]
    avg = df.groupby(keys, as_index=False).agg(value=("value", "mean"), chance=("chance", "mean"))
    avg["task"] = "average"
    return pd.concat([df, avg], ignore_index=True)


def accuracy_vs_sparsity(table: pd.DataFrame, out_pdf: str | Path) -> None:
    """Plot accuracy (percent) against unstructured sparsity, dense at 0, chance dashed."""
    df = with_average(unstructured_view(table))
    dense = df[df["method"] == "dense"]
    lines = pd.concat([df[df["method"] != "dense"]] + [
        dense.assign(method=m) for m in sorted(set(df["method"]) - {"dense"})], ignore_index=True)
    order = ["average"] + sorted(set(df["task"]) - {"average"})
    rows = sorted(set(df["model"]))
    grid = sns.relplot(data=lines, x="sparsity_num", y="value", hue="method", style="method",
                       col="task", col_order=order, row="model", row_order=rows, kind="line",
                       markers=True, dashes=False, height=2.4, aspect=1.1, errorbar=None,
                       facet_kws={"sharey": False}, hue_order=sorted(set(lines["method"])))
    for (model, task), ax in grid.axes_dict.items():
        chance = df[(df["model"] == model) & (df["task"] == task)]["chance"].dropna()
        if len(chance) and not math.isnan(chance.iloc[0]):
            ax.axhline(chance.iloc[0], color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("sparsity")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}", size=8)
    grid.set_ylabels("accuracy (%)")
    grid.figure.suptitle("Accuracy vs unstructured sparsity (dashed: chance; 0 = dense)", y=1.02)
    save_figure(grid.figure, out_pdf)


def main(argv: list[str]) -> None:
    """``accuracy --table results/tables/main.csv --out figures/accuracy_vs_sparsity.pdf``."""
    import argparse

    parser = argparse.ArgumentParser(prog="sinkprune figures accuracy")
    parser.add_argument("--table", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    accuracy_vs_sparsity(pd.read_csv(args.table, dtype={"sparsity": str}), args.out)
