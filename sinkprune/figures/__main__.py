"""``sinkprune figures <figure> ...``: dispatch to one figure's command line.

Figures: accuracy (accuracy_vs_sparsity), sink_variance, sink_heatmap, sink_layers, sink_power.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run the figure named by the first argument with the remaining arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    name, rest = argv[0], argv[1:]
    if name == "accuracy":
        from sinkprune.figures.accuracy import main as run

        run(rest)
    elif name in ("sink_variance", "sink_heatmap", "sink_layers"):
        from sinkprune.figures.sinks import main as run

        run([name] + rest)
    elif name == "sink_power":
        from sinkprune.figures.power import main as run

        run(rest)
    else:
        raise SystemExit(f"unknown figure {name!r}; see sinkprune figures --help")


if __name__ == "__main__":
    main()
