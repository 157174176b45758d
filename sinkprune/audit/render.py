"""The report as a list of blocks, and its two renderers (Markdown and HTML)."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

Block = tuple[str, Any]  # ("h1"|"h2"|"h3"|"p"|"ul", text or items) or ("table", (headers, rows))


def fmt_cell(v: Any, decimals: int = 2) -> str:
    """A table cell: floats with ``decimals`` places (NaN and None empty), lists comma-joined."""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.{decimals}f}"
    if isinstance(v, list):
        return ", ".join(fmt_cell(x, decimals) for x in v)
    return "" if v is None else str(v)


def fmt_estimate(e: Any) -> str:
    """'value [low, high]' for the sinks stage's {"value", "ci"} estimates."""
    if isinstance(e, dict) and "value" in e:
        v, ci = e.get("value"), e.get("ci") or [None, None]
        fmt = lambda x: "undefined" if x is None else f"{x:.4g}"  # noqa: E731
        return f"{fmt(v)} [{fmt(ci[0])}, {fmt(ci[1])}]"
    return fmt_cell(e)


def table_block(df: pd.DataFrame, columns: dict[str, str]) -> Block:
    """A table block from ``df`` with ``columns`` (df column -> header), cells formatted."""
    rows = [[fmt_cell(r[c]) for c in columns] for _, r in df.iterrows()]
    return ("table", (list(columns.values()), rows))


def render_markdown(blocks: list[Block]) -> str:
    """The blocks as GitHub-flavoured Markdown (``|`` in cells escaped)."""
    out = []
    for kind, body in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + body)
        elif kind == "p":
            out.append(body)
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in body))
        elif kind == "table":
            headers, rows = body
            esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
            head = [h.replace("|", "\\|") for h in headers]
            out.append("\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(headers)]
                                 + ["| " + " | ".join(r) + " |" for r in esc]))
    return "\n\n".join(out) + "\n"


def render_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page; pass/fail/missing cells are coloured."""
    def inline(text: str) -> str:
        # Only the Markdown the report itself uses: **bold** and `code`.
        parts = html.escape(text).split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        parts = text.split("**")
        return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))

    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">", f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:75em;margin:2em auto}"
           "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;padding:2px 6px}"
           "td.pass{background:#dfd}td.fail{background:#fdd}td.missing{color:#777}</style></head><body>"]
    for kind, body in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{inline(body)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{inline(body)}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in body) + "</ul>")
        elif kind == "table":
            headers, rows = body
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
            for r in rows:
                cells = []
                for c in r:
                    cls = {"pass": "pass", "fail": "fail"}.get(c, "missing" if str(c).startswith("missing") else "")
                    attr = f" class=\"{cls}\"" if cls else ""
                    cells.append(f"<td{attr}>{html.escape(str(c))}</td>")
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
