"""Sink-analysis figures (seaborn, PDF + PNG; the heatmap also as an animated GIF).

- ``sink_variance``: temporal variance of the sink position, AR vs DLM, trained vs untrained vs
  the random-position control, 95 % bootstrap CIs (from results/tables/sinks.csv).
- ``sink_heatmap``: received mass over timestep × position for one model, trained and untrained.
- ``sink_layers``: the same variances per layer.
CLI: ``sinkprune figures {sink_variance,sink_heatmap,sink_layers} ... --out F.pdf``
(PNG, and for the heatmap GIF, are written beside the PDF).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns

from sinkprune.figures.save import save_figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

STATE_ORDER = ("trained", "untrained", "random")
STATE_LABELS = {"trained": "trained", "untrained": "untrained (control)",
                "random": "random position (control)"}
VARIANCE_STATISTICS = ("dominant_var", "centroid_var")
TITLES = {"dominant_var": "Dominant sink position: Var_t(argmax_i m_t(i)) / S²",
          "centroid_var": "Sink centroid: Var_t(c_t) / S²"}
PRIMARY_TRAJECTORY = {"ar": "ar_prefix", "dlm": "noised"}


def _palette() -> dict[str, tuple]:
    colours = sns.color_palette("colorblind", 3)
    return dict(zip(STATE_ORDER, colours))


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["label"] = out["model"] + " [" + out["kind"].str.upper() + "]\n" + out["trajectory"]
    return out


def _bar_order(df: pd.DataFrame) -> list[str]:
    # AR models first, then DLMs; within a model its trajectories alphabetically.
    keys = df[["kind", "model", "trajectory", "label"]].drop_duplicates()
    return keys.sort_values(["kind", "model", "trajectory"])["label"].tolist()


def sink_variance(table: pd.DataFrame, out_pdf: str | Path,
                  statistics: tuple[str, ...] = VARIANCE_STATISTICS) -> None:
    """Bars: one group per model × trajectory, one bar per state, CI whiskers; one panel per statistic."""
    sns.set_theme(style="whitegrid", context="paper")
    df = _labelled(table[(table["scope"] == "all") & table["statistic"].isin(statistics)])
    if df.empty:
        raise ValueError(f"table has no layer-summed rows for {statistics}")
    order = _bar_order(df)
    palette = _palette()
    fig, axes = plt.subplots(1, len(statistics), figsize=(4.2 * len(statistics) + 0.6, 3.6), squeeze=False)
    width = 0.8 / len(STATE_ORDER)
    for ax, stat in zip(axes[0], statistics):
        sub = df[df["statistic"] == stat]
        for j, state in enumerate(STATE_ORDER):
            rows = sub[sub["state"] == state].set_index("label").reindex(order)
            x = np.arange(len(order)) + (j - 1) * width
            value = rows["value"].to_numpy(float)
            err = np.vstack([value - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - value])
            ax.bar(x, np.nan_to_num(value), width, color=palette[state], label=STATE_LABELS[state])
            ax.errorbar(x, value, yerr=np.nan_to_num(np.abs(err)), fmt="none", ecolor="black", capsize=2, lw=0.8)
            for xi, v in zip(x, value):
                if np.isnan(v):  # undefined (no sinks at ≥ 2 timesteps): say so instead of a 0 bar
                    ax.text(xi, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
        ax.set_xticks(np.arange(len(order)), order, fontsize=7, rotation=45, ha="right")
        ax.set_title(TITLES.get(stat, stat), fontsize=8)
        ax.set_ylabel("variance / S² (higher = sink moves more)", fontsize=7)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Do attention sinks move over the trajectory? AR (prefix decoding) vs DLM (denoising); "
                 "bars: mean over sequences, whiskers: 95% bootstrap CI", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_pdf)


def sink_layers(table: pd.DataFrame, out_pdf: str | Path,
                statistics: tuple[str, ...] = VARIANCE_STATISTICS) -> None:
    """Per-layer variance for each model's primary trajectory (AR: ar_prefix, DLM: noised)."""
    sns.set_theme(style="whitegrid", context="paper")
    df = table[table["scope"].str.startswith("layer") & table["statistic"].isin(statistics)].copy()
    df = df[df["trajectory"] == df["kind"].map(PRIMARY_TRAJECTORY)]
    if df.empty:
        raise ValueError("table has no per-layer rows for the primary trajectories")
    df["layer"] = df["scope"].str.removeprefix("layer").astype(int)
    models = sorted(df["model"].unique(), key=lambda m: (df[df["model"] == m]["kind"].iloc[0], m))
    colours = dict(zip(models, sns.color_palette("colorblind", len(models))))
    styles = {"trained": "-", "untrained": "--", "random": ":"}
    fig, axes = plt.subplots(1, len(statistics), figsize=(4.2 * len(statistics) + 0.6, 3.4), squeeze=False)
    for ax, stat in zip(axes[0], statistics):
        for model in models:
            for k, state in enumerate(STATE_ORDER):
                rows = df[(df["statistic"] == stat) & (df["model"] == model) & (df["state"] == state)]
                rows = rows.sort_values("layer")
                if rows.empty:
                    continue
                x = rows["layer"].to_numpy() + (k - 1) * 0.06
                kind = rows["kind"].iloc[0].upper()
                ax.errorbar(x, rows["value"], yerr=np.abs(np.vstack([rows["value"] - rows["ci_low"],
                                                                     rows["ci_high"] - rows["value"]])),
                            color=colours[model], linestyle=styles[state], marker="o", markersize=3,
                            capsize=2, lw=1, label=f"{model} [{kind}] {STATE_LABELS[state]}")
        ax.set_xlabel("layer")
        ax.set_xticks(sorted(df["layer"].unique()))
        ax.set_ylabel("variance / S²", fontsize=7)
        ax.set_title(TITLES.get(stat, stat) + " per layer", fontsize=8)
    axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("Sink movement per layer (solid: trained, dashed: untrained, dotted: random position; "
                 "whiskers: 95% bootstrap CI)", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_pdf)


def relative_mass(mass: np.ndarray, lengths: np.ndarray, sequence: int = 0) -> np.ndarray:
    """Layer- and head-summed mass of one sequence in multiples of uniform: ``[T, N, L, H, S]`` → ``[T, S]``.

    Positions that do not exist yet at a timestep (AR prefixes) are NaN.
    """
    m = mass[:, sequence].astype(np.float64).sum(axis=(1, 2))  # [T, S]
    valid = np.arange(m.shape[1])[None, :] < np.asarray(lengths)[:, None]
    mean = np.where(valid, m, 0).sum(axis=1, keepdims=True) / np.asarray(lengths)[:, None]
    return np.where(valid, m / mean, np.nan)


def _time_labels(meta: dict, times: np.ndarray) -> tuple[str, list[str]]:
    kind = meta.get("kind", "")
    if kind == "noised":
        return "noise level t (share masked)", [f"{t:.2f}" for t in times]
    if kind == "ar_prefix":
        return "prefix length / S", [f"{t:.2f}" for t in times]
    return "generation step / steps", [f"{t:.2f}" for t in times]


def sink_heatmap(trained, untrained, out_pdf: str | Path, model: str, sequence: int = 0) -> None:
    """Heatmaps (timestep × position) of one sequence's mass, trained and untrained; GIF of the profiles.

    trained / untrained: ``sinkprune.sinks.store.Trajectory``. Colour: mass in multiples of uniform
    (log scale); a white × marks the dominant position at each timestep.
    """
    sns.set_theme(style="white", context="paper")
    panels = [("trained", trained), ("untrained (control)", untrained)]
    rel = [relative_mass(t.mass, t.lengths, sequence) for _, t in panels]
    finite = np.concatenate([r[np.isfinite(r)] for r in rel])
    norm = LogNorm(vmin=max(finite.min(), 1e-3), vmax=max(finite.max(), 1.01))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), squeeze=False)
    for ax, (name, traj), r in zip(axes[0], panels, rel):
        ylabel, ticks = _time_labels(traj.meta, traj.times)
        cmap = matplotlib.colormaps["magma"].with_extremes(bad="lightgrey")  # grey: position not there yet
        image = ax.imshow(np.clip(r, norm.vmin, None), aspect="auto", interpolation="nearest", cmap=cmap,
                          norm=norm)
        dominant = np.nanargmax(np.where(np.isfinite(r), r, -np.inf), axis=1)
        ax.scatter(dominant, np.arange(len(dominant)), marker="x", color="cyan", s=14, linewidths=0.8)
        ax.set_yticks(np.arange(len(ticks)), ticks, fontsize=6)
        ax.set_ylabel(ylabel, fontsize=7)
        ax.set_xlabel("key position", fontsize=7)
        ax.set_title(f"{model} {name}: {traj.meta.get('kind', '')} trajectory, sequence {sequence}", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), label="received mass / uniform (log)")
    fig.suptitle("Received attention mass Σ_layers Σ_heads Σ_queries A[q, i] per key position "
                 "(cyan × = dominant sink at each timestep; grey = position not yet decoded)", fontsize=8)
    save_figure(fig, out_pdf)
    write_heatmap_gif(rel, [name for name, _ in panels], [t for _, t in panels], model,
                      Path(out_pdf).with_suffix(".gif"))


def write_heatmap_gif(rel: list[np.ndarray], names: list[str], trajs: list, model: str, path: Path,
                      fps: int = 2) -> Path:
    """Animated GIF, one frame per timestep: each panel's mass profile over positions at that step."""
    steps = max(r.shape[0] for r in rel)
    top = max(np.nanmax(r) for r in rel) * 1.05
    fig, axes = plt.subplots(1, len(rel), figsize=(9, 2.8), squeeze=False, dpi=80)
    lines = []
    for ax, r, name in zip(axes[0], rel, names):
        (line,) = ax.plot(np.arange(r.shape[1]), r[0], color="C0", lw=1)
        ax.axhline(1.0, color="grey", lw=0.6, ls="--")
        ax.set_ylim(0, top)
        ax.set_xlabel("key position", fontsize=7)
        ax.set_ylabel("mass / uniform", fontsize=7)
        lines.append(line)
    titles = [ax.set_title("", fontsize=7) for ax in axes[0]]

    def frame(t: int):
        for line, r, title, name, traj in zip(lines, rel, titles, names, trajs):
            step = min(t, r.shape[0] - 1)
            line.set_ydata(r[step])
            title.set_text(f"{model} {name}: {traj.meta.get('kind', '')} step {step + 1}/{r.shape[0]} "
                           f"(t={traj.times[step]:.2f})")
        return lines + titles

    path.parent.mkdir(parents=True, exist_ok=True)
    animation = FuncAnimation(fig, frame, frames=steps, blit=False)
    animation.save(str(path), writer=PillowWriter(fps=fps))
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    """``{sink_variance,sink_layers} --table CSV --out PDF`` or ``sink_heatmap --trained NPZ --untrained NPZ --out PDF``."""
    parser = argparse.ArgumentParser(prog="sinkprune figures")
    sub = parser.add_subparsers(dest="figure", required=True)
    for name in ("sink_variance", "sink_layers"):
        p = sub.add_parser(name)
        p.add_argument("--table", required=True, help="results/tables/sinks.csv")
        p.add_argument("--out", required=True, help="PDF path; the PNG goes beside it")
    p = sub.add_parser("sink_heatmap")
    p.add_argument("--trained", required=True, help="results/sinks/{model}/trained/{kind}.npz")
    p.add_argument("--untrained", required=True, help="results/sinks/{model}/untrained/{kind}.npz")
    p.add_argument("--out", required=True, help="PDF path; PNG and GIF go beside it")
    p.add_argument("--model", help="model name for titles (default: read from the trained path)")
    p.add_argument("--sequence", type=int, default=0, help="which calibration sequence to show")
    args = parser.parse_args(argv)
    if args.figure == "sink_heatmap":
        from sinkprune.sinks.store import load_trajectory

        model = args.model or Path(args.trained).parent.parent.name
        sink_heatmap(load_trajectory(args.trained), load_trajectory(args.untrained), args.out, model, args.sequence)
    else:
        table = pd.read_csv(args.table)
        (sink_variance if args.figure == "sink_variance" else sink_layers)(table, args.out)


if __name__ == "__main__":
    main()
