"""Write a matplotlib figure as PDF and PNG, byte-identical across reruns."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Dates and tool versions in file metadata would make every rerun differ.
_PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
_PNG_METADATA = {"Software": None}


def save_figure(fig: plt.Figure, pdf_path: str | Path, dpi: int = 150) -> tuple[Path, Path]:
    """Save ``fig`` to ``pdf_path`` and to the same name with .png; close it. Returns both paths."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    png_path = pdf_path.with_suffix(".png")
    matplotlib.rcParams["pdf.compression"] = 6
    matplotlib.rcParams["svg.hashsalt"] = "sinkprune"
    fig.savefig(pdf_path, metadata=_PDF_METADATA, bbox_inches="tight")
    fig.savefig(png_path, metadata=_PNG_METADATA, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return pdf_path, png_path
