"""``sinkprune audit``: write the audit page (Markdown, and HTML with ``--html``)::

    sinkprune audit --config config/mini.yaml --published paper/published.csv \\
        --main results/tables/main.csv --claims results/claims/sink_variance.json \\
        --controls results/controls/sink_power.json results/controls/pruning.json \\
        --protocol-diff results/prune/*/protocol_diff.csv \\
        --out results/audit.md --html results/audit.html

Every file read is an argument (the rule passes its inputs); an absent one is reported in the
page, not an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

from sinkprune.audit.compare import read_published
from sinkprune.audit.render import render_html, render_markdown
from sinkprune.audit.report import build_report
from sinkprune.audit.sections import PLANTED_PRUNING, SINK_POWER
from sinkprune.audit.settings import AuditSettings
from sinkprune.checksums import atomic_write
from sinkprune.stage_parser import stage_parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sinkprune audit``; exit 0 once the report is written.

    With ``--fail-on-mismatch`` the exit code is 1 when any compared row fails the tolerance
    (missing rows never fail: they are reported).
    """
    parser, _ = stage_parser("audit", __doc__)
    parser.add_argument("--config", required=True, help="the run's config (its `audit:` section and scale)")
    parser.add_argument("--published", default="paper/published.csv")
    parser.add_argument("--main", default="results/tables/main.csv", help="our main table (tables stage)")
    parser.add_argument("--claims", default="results/claims/sink_variance.json",
                        help="the sink-variance claim (sinks stage)")
    parser.add_argument("--controls", nargs="*", default=[f"results/controls/{SINK_POWER}",
                                                           f"results/controls/{PLANTED_PRUNING}"],
                        help=f"the controls stage's {SINK_POWER} and {PLANTED_PRUNING} (none: not run)")
    parser.add_argument("--protocol-diff", nargs="*", default=[],
                        help="results/prune/{model}/protocol_diff.csv files (prune stage)")
    parser.add_argument("--out", default="results/audit.md")
    parser.add_argument("--html", default=None)
    parser.add_argument("--fail-on-mismatch", action="store_true")
    args = parser.parse_args(argv)

    settings = AuditSettings.from_config(yaml.safe_load(Path(args.config).read_text()) or {})
    published = read_published(args.published)
    ours = pd.read_csv(args.main, dtype={"sparsity": str}) if Path(args.main).is_file() else None
    blocks, cmp = build_report(published, ours, args.claims, settings, args.main, args.protocol_diff,
                               args.controls)
    atomic_write(args.out, render_markdown(blocks))
    if args.html:
        atomic_write(args.html, render_html(blocks, "sinkprune audit"))
    counts = cmp["verdict"].value_counts().to_dict()
    print(f"audit: {counts} -> {args.out}")
    return 1 if args.fail_on_mismatch and counts.get("fail", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
