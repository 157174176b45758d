"""rules/paper.smk: paper/main.pdf builds from the tables and figures, reproducibly (same bytes on
a rebuild), and the rule fails with a clear message when pdflatex is absent.

The real paper/main.tex is used with small stand-in tables and figures written here, so the test
needs neither the DAG nor its models.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS = ["tiny-ar", "tiny-llada"]

# Stands in for rules/common.smk: the names paper.smk reads from it.
SNAKEFILE = f"""
MODELS = {MODELS!r}
def resources_for(name):
    return {{"mem_mb": 1000, "runtime": 10}}
include: "{REPO / 'rules' / 'paper.smk'}"
"""

TABLE = r"""\begin{tabular}{llr}
\toprule
Model & Method & acc \\
\midrule
tiny-llada & wanda & 51.00 $\pm$ 2.00 \\
\bottomrule
\end{tabular}
"""


def _minimal_pdf(title: str) -> bytes:
    """A valid one-page PDF (hand-built: no plotting library needed)."""
    content = f"BT /F1 12 Tf 20 50 Td ({title}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "paper" / "tables").mkdir(parents=True)
    shutil.copy(REPO / "paper" / "main.tex", tmp_path / "paper" / "main.tex")
    for name in ("main", "sinks"):
        (tmp_path / "paper" / "tables" / f"{name}.tex").write_text(TABLE)
    figs = ["sink_variance", "accuracy_vs_sparsity"] + [f"sink_heatmap/{m}" for m in MODELS]
    for fig in figs:
        path = tmp_path / "figures" / f"{fig}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_minimal_pdf(fig))
    return tmp_path


def _smk(workdir: Path, env: dict[str, str] | None = None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "paper_pdf", *args],
                          cwd=workdir, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex: run workflow/install-tex.sh")
def test_paper_pdf_builds_with_every_heatmap_and_is_reproducible(workdir: Path) -> None:
    proc = _smk(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pdf = (workdir / "paper" / "main.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert "Output written on build/main.pdf" in (workdir / "logs" / "paper" / "main.log").read_text()
    tex_log = (workdir / "paper" / "build" / "main.log").read_text()
    for m in MODELS:  # one heatmap per config model, looped over in main.tex
        assert f"File: ../figures/sink_heatmap/{m}.pdf Graphic file" in tex_log
    assert "File: ../figures/accuracy_vs_sparsity.pdf Graphic file" in tex_log
    assert _smk(workdir, None, "--forcerun", "paper_pdf").returncode == 0
    assert (workdir / "paper" / "main.pdf").read_bytes() == pdf  # fixed dates and /ID


def test_paper_pdf_without_tex_says_how_to_install(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # The same PATH minus pdflatex: every other command stays reachable through symlinks.
    bindir = tmp_path_factory.mktemp("bin")
    for d in [str(Path(sys.executable).parent)] + os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for entry in os.scandir(d):
            target = bindir / entry.name
            if entry.name != "pdflatex" and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    env = {**os.environ, "PATH": str(bindir)}
    proc = _smk(workdir, env)
    assert proc.returncode != 0
    assert "pdflatex not found; install TeX with: sudo bash workflow/install-tex.sh" in proc.stderr + proc.stdout
    assert not (workdir / "paper" / "main.pdf").exists()
