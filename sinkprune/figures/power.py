"""Detection power of the sink claim's test (planted controls; docs/controls.md).

One panel: x = the planted pair's excess over the untrained gap (mean over repetitions at each
planted strength, whiskers = its spread), y = share of repetitions the test called "holds".
The dashed line marks 80 % power and the dotted vertical line the smallest excess detected with
it; short ticks on the x axis mark each real DLM stand-in's measured excess (claim JSON).
CLI: ``python -m sinkprune.figures sink_power --table sink_power.csv --summary sink_power.json
--claim sink_variance.json --out figures/sink_power.pdf`` (PNG beside it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import seaborn as sns

from sinkprune.figures.save import save_figure


def trained_excesses(claim: dict) -> dict[str, float]:
    """DLM stand-in → its primary excess over the untrained gap (first AR reference)."""
    out = {}
    for dlm, results in (claim.get("summary") or {}).items():
        if results and results[0]["excess_over_untrained_gap"]["value"] is not None:
            out[dlm] = float(results[0]["excess_over_untrained_gap"]["value"])
    return out


def sink_power(table: pd.DataFrame, summary: dict, claim: dict, out_pdf: str | Path) -> None:
    """Power curve with the 80 % line, the smallest detectable excess and the stand-ins' excesses."""
    sns.set_theme(style="whitegrid", context="paper")
    import matplotlib.pyplot as plt

    grid = pd.DataFrame(summary["grid"])
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ax.errorbar(grid["mean_excess"], grid["power"], xerr=grid["sd_excess"], fmt="o-",
                color=sns.color_palette("colorblind")[0], capsize=3, label="planted pair (mean ± sd over repetitions)")
    for _, g in grid.iterrows():
        ax.annotate(f"s={g['strength']:g}", (g["mean_excess"], g["power"]), textcoords="offset points",
                    xytext=(4, -10), fontsize=7)
    ax.axhline(summary["power_target"], ls="--", color="grey", lw=1)
    mde = summary.get("smallest_detectable_excess")
    if mde is not None:
        ax.axvline(mde, ls=":", color="black", lw=1, label=f"smallest excess at 80 % power: {mde:.3f}")
    colours = sns.color_palette("colorblind")[1:]
    for (dlm, excess), colour in zip(sorted(trained_excesses(claim).items()), colours):
        ax.axvline(excess, ymax=0.08, color=colour, lw=2, label=f"{dlm} (trained): {excess:.3f}")
    ax.set_xlabel("excess over the untrained gap (dominant_var / S²)")
    ax.set_ylabel('P(test says "holds")')
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"Sink-claim test power, N = {summary['n_sequences']} sequences, "
                 f"{summary['repetitions']} repetitions per strength", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    save_figure(fig, out_pdf)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and draw the power figure."""
    parser = argparse.ArgumentParser(prog="python -m sinkprune.figures sink_power")
    parser.add_argument("--table", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--claim", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    sink_power(pd.read_csv(args.table), json.loads(Path(args.summary).read_text()),
               json.loads(Path(args.claim).read_text()), args.out)
