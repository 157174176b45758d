"""workflow/report/*.rst: every caption the rules reference exists and renders as Snakemake's
report renders it (Jinja, then docutils) without a docutils warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

docutils_core = pytest.importorskip("docutils.core")
jinja2 = pytest.importorskip("jinja2")

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "workflow" / "report"


class _Wildcards:
    model = "tiny-llada"


class _Snakemake:
    """The attributes captions may use: config (workflow.rst) and wildcards (per-file captions)."""
    config = {"scale": "mini"}
    wildcards = _Wildcards


def _referenced_captions() -> set[str]:
    names = set()
    for smk in list((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]:
        if smk.is_file():
            names |= set(re.findall(r"workflow/report/([\w.-]+\.rst)", smk.read_text()))
    return names


def test_every_referenced_caption_exists() -> None:
    missing = sorted(n for n in _referenced_captions() if not (REPORT / n).is_file())
    assert not missing, f"captions referenced by rules but absent: {missing}"


def test_each_report_output_has_its_own_caption() -> None:
    """A caption describes one figure or table: two report() outputs never share one."""
    refs = [n for smk in sorted((REPO / "rules").glob("*.smk"))
            for n in re.findall(r"caption=\"\.\./workflow/report/([\w.-]+\.rst)\"", smk.read_text())]
    assert refs and len(refs) == len(set(refs)), f"captions used twice: {sorted({n for n in refs if refs.count(n) > 1})}"


@pytest.mark.parametrize("caption", sorted(p.name for p in REPORT.glob("*.rst")))
def test_caption_renders_without_warnings(caption: str) -> None:
    text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (REPORT / caption).read_text()).render(snakemake=_Snakemake)
    # halt_level 2 turns any docutils warning (bad markup) into an exception.
    html = docutils_core.publish_parts(text, writer="html",
                                       settings_overrides={"halt_level": 2, "report_level": 5})["body"]
    assert len(html) > 200
