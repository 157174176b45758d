"""Tests of paper/published.csv (transcription) and the sinkprune.audit package (comparison, claim verdicts)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from sinkprune.audit import claims, compare, render, sections
from sinkprune.audit.settings import AuditSettings
from sinkprune.audit.__main__ import main as audit_main

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "paper" / "published.csv"
# shared/ sits beside the clone in CI and beside /work/main for developers.
PUBLISHED_MD = next((p for p in (REPO.parent / "shared" / "design" / "published.md",
                                 Path("/work/shared/design/published.md")) if p.is_file()), None)

PAPER_TASKS = {"MMLU": "mmlu", "ARC-C": "arc_challenge", "PIQA": "piqa", "WinoG": "winogrande",
               "GSM8K": "gsm8k", "HellaSwag": "hellaswag", "ARC-E": "arc_easy", "GPQA": "gpqa_main_n_shot",
               "RACE": "race"}
# 8 × Avg − Σ six listed, per unstructured row (../shared/design/published.md).
IMPLIED_GPQA_RACE = {"dense": 69.08, "wanda": 59.37, "sink_wanda": 60.39, "sparsegpt": 60.80, "sink_sparsegpt": 60.27}
MAIN_COLUMNS = ["model", "standin_for", "method", "sparsity", "achieved_sparsity", "task", "metric",
                "value", "stderr", "chance", "n"]


def _md_tables(text: str) -> list[list[list[str]]]:
    tables, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            tables.append(cur)
            cur = []
    return tables + ([cur] if cur else [])


# ---------------------------------------------------------------------------- transcription
@pytest.mark.skipif(PUBLISHED_MD is None, reason="shared/design/published.md not beside the repo")
def test_published_csv_is_exact_transcription_of_published_md() -> None:
    pub = compare.read_published(PUBLISHED)
    got = pub[pub["status"] == "published"]
    expected = []
    for table, kind, unit in zip(_md_tables(PUBLISHED_MD.read_text()), ("unstructured", "structured"),
                                 ("percent", "fraction")):
        header = table[0]
        for row in table[2:]:  # skip the |---| line
            for task, value in zip(header[2:], row[2:]):
                expected.append((kind, row[1], row[0], task, value, unit))
    actual = list(got[["table", "method", "sparsity", "task", "value", "unit"]].itertuples(index=False, name=None))
    assert actual == expected  # same strings ("43.00", "0.6630"), same order, nothing added
    assert set(got["model"]) == {"LLaDA-8B-Base"}
    assert all("6ef32c9" in s for s in got["source"])


def test_untranscribed_models_are_listed_without_values() -> None:
    pub = compare.read_published(PUBLISHED)
    missing = pub[pub["status"] == "not_transcribed"]
    assert set(missing["model"]) == {"Dream-7B", "LLaDA-1.5", "MMaDA"}
    assert (missing["value"] == "").all()
    assert set(pub["status"]) == {"published", "not_transcribed"}


# ---------------------------------------------------------------------------- part 1
def _paper_settings(tol: float = 1.0) -> AuditSettings:
    return AuditSettings(tolerance=tol, model_map={"LLaDA-8B-Base": "llada"},
                               task_map=PAPER_TASKS, scale="paper")


def _ours_from_published(shift: dict[tuple[str, str, str], float] | None = None,
                         extra: bool = False) -> pd.DataFrame:
    """Our table as if we reproduced every LLaDA row exactly, plus optional shifts (pp).

    ``extra``: GPQA and RACE rows too, splitting the implied GPQA + RACE sum 40 / 60.
    """
    pub = compare.read_published(PUBLISHED)
    rows = []
    if extra:
        for method, implied in IMPLIED_GPQA_RACE.items():
            sparsity = "0.00" if method == "dense" else "0.50"
            for task, share in (("gpqa_main_n_shot", 0.4), ("race", 0.6)):
                rows.append(["llada", "LLaDA-8B-Base", method, sparsity, float(sparsity), task, "acc",
                             share * implied, 1.0, 25.0, 100])
    for _, r in pub[(pub["status"] == "published") & (pub["task"] != "Avg")].iterrows():
        value = compare.to_points(r["value"], r["unit"])
        sparsity = f"{float(r['sparsity']):.2f}"
        value += (shift or {}).get((r["method"], sparsity, r["task"]), 0.0)
        rows.append(["llada", "LLaDA-8B-Base", r["method"], sparsity, float(sparsity),
                     PAPER_TASKS[r["task"]], "acc", value, 1.0, 25.0, 100])
    return pd.DataFrame(rows, columns=MAIN_COLUMNS)


def test_mini_scale_lists_every_row_as_missing() -> None:
    pub = compare.read_published(PUBLISHED)
    cmp = compare.compare_published(pub, _ours_from_published(), AuditSettings(scale="mini"))
    assert len(cmp) == len(pub)  # listed, not dropped
    listed = cmp[pub["status"] == "published"]
    assert (listed["verdict"] == "missing at this scale").all()
    assert (cmp.loc[pub["status"] == "not_transcribed", "verdict"] == "not transcribed").all()
    # Folded: one line per published table; Avg rows stay, with their arithmetic.
    shown, lines = compare.fold_missing(cmp)
    assert lines == ["LLaDA-8B-Base, unstructured table: 30 task rows missing at this scale "
                     "(no config model mapped to LLaDA-8B-Base (audit.model_map))",
                     "LLaDA-8B-Base, structured table: 16 task rows missing at this scale "
                     "(no config model mapped to LLaDA-8B-Base (audit.model_map))"]
    assert list(shown["task"][shown["status"] == "published"]) == ["Avg"] * 5
    assert shown["reason"].str.startswith("comparable").sum() == 5


def test_avg_eight_task_arithmetic() -> None:
    """8 × Avg − Σ six listed = implied GPQA + RACE (dense: 8 × 57.93 − 394.36 = 69.08)."""
    pub = compare.read_published(PUBLISHED)
    avg = pub[(pub["task"] == "Avg") & (pub["status"] == "published")]
    for _, row in avg.iterrows():
        tasks, implied, reason = compare.avg_arithmetic(row, pub)
        assert tasks == ["MMLU", "ARC-C", "PIQA", "WinoG", "GSM8K", "HellaSwag", "GPQA", "RACE"]
        assert implied == pytest.approx(IMPLIED_GPQA_RACE[row["method"]], abs=0.005)
        assert "eight-benchmark assumption" in reason and f"{implied:.2f} implied GPQA + RACE" in reason
    dense = avg[avg["method"] == "dense"].iloc[0]
    assert "Σ listed 394.36" in compare.avg_arithmetic(dense, pub)[2]


def test_exact_reproduction_passes_including_avg_and_fractions() -> None:
    pub = compare.read_published(PUBLISHED)
    cmp = compare.compare_published(pub, _ours_from_published(), _paper_settings())
    done = cmp[cmp["status"] == "published"]
    tasks = done[done["task"] != "Avg"]
    assert (tasks["verdict"] == "pass").all(), tasks[tasks["verdict"] != "pass"][["method", "task", "reason"]]
    # Without GPQA and RACE the eight-task Avg cannot be formed: missing, arithmetic stated.
    avg = done[done["task"] == "Avg"]
    assert (avg["verdict"] == "missing at this scale").all()
    assert "57.93" in avg["reason"].iloc[0] and "65.73" in avg["reason"].iloc[0]
    assert avg["reason"].str.contains("missing GPQA, RACE").all()
    # With them (summing to the implied value), our eight-task mean reproduces every Avg.
    full = compare.compare_published(pub, _ours_from_published(extra=True), _paper_settings())
    avg = full[(full["task"] == "Avg") & (full["status"] == "published")]
    assert (avg["verdict"] == "pass").all(), avg[["method", "ours", "reason"]]
    assert avg["ours"].tolist() == pytest.approx([57.93, 52.70, 53.18, 52.34, 52.36], abs=0.005)
    assert avg["ours_extra"].tolist() == pytest.approx(avg["implied_extra"].tolist(), abs=1e-9)
    assert avg["reason"].str.startswith("comparable under the eight-benchmark assumption").all()
    # Structured values are fractions: 0.6834 published is 68.34 pp ours.
    piqa = done[(done["method"] == "structured") & (done["sparsity"] == "0.3") & (done["task"] == "PIQA")]
    assert piqa["ours"].iloc[0] == pytest.approx(68.34)


def test_difference_beyond_tolerance_fails_and_names_row() -> None:
    pub = compare.read_published(PUBLISHED)
    ours = _ours_from_published({("wanda", "0.50", "GSM8K"): -2.5, ("sink_wanda", "0.50", "PIQA"): 0.9})
    cmp = compare.compare_published(pub, ours, _paper_settings(tol=1.0))
    failed = cmp[cmp["verdict"] == "fail"]
    assert list(zip(failed["method"], failed["task"])) == [("wanda", "GSM8K")]
    assert failed["diff"].iloc[0] == pytest.approx(2.5)
    sw = cmp[(cmp["method"] == "sink_wanda") & (cmp["task"] == "PIQA")].iloc[0]
    assert sw["verdict"] == "pass" and sw["diff"] == pytest.approx(0.9)


def test_partial_results_say_what_is_missing() -> None:
    pub = compare.read_published(PUBLISHED)
    ours = _ours_from_published()
    ours = ours[~((ours["method"] == "sparsegpt") | (ours["task"] == "gsm8k"))]
    cmp = compare.compare_published(pub, ours, _paper_settings())
    sg = cmp[(cmp["method"] == "sparsegpt") & (cmp["task"] != "Avg")]
    assert (sg["verdict"] == "missing at this scale").all()
    assert sg["reason"].str.contains("no sparsegpt at sparsity 0.5").all()


def test_consistent_avg_is_recomputed_from_our_tasks() -> None:
    """Where a published Avg is the mean of its listed tasks, ours is the mean of the same tasks."""
    src = "synthetic"
    pub = pd.DataFrame(
        [["M", "unstructured", "wanda", "0.5", t, v, "percent", src, "published"]
         for t, v in (("Avg", "55.00"), ("PIQA", "60.00"), ("MMLU", "50.00"))],
        columns=["model", "table", "method", "sparsity", "task", "value", "unit", "source", "status"])
    ours = pd.DataFrame([["m", "M", "wanda", "0.50", 0.5, "piqa", "acc", 61.0, 1.0, 50.0, 100],
                         ["m", "M", "wanda", "0.50", 0.5, "mmlu", "acc", 51.5, 2.0, 25.0, 100]],
                        columns=MAIN_COLUMNS)
    settings = AuditSettings(tolerance=1.0, model_map={"M": "m"}, task_map=PAPER_TASKS)
    avg = compare.compare_published(pub, ours, settings).iloc[0]
    assert avg["ours"] == pytest.approx(56.25) and avg["diff"] == pytest.approx(1.25)
    assert avg["verdict"] == "fail"
    assert avg["stderr"] == pytest.approx((1.0 + 4.0) ** 0.5 / 2)
    partial = compare.compare_published(pub, ours[ours["task"] == "piqa"], settings).iloc[0]
    assert partial["verdict"] == "missing at this scale" and "MMLU" in partial["reason"]


# ---------------------------------------------------------------------------- part 2
def _pair_rows(sink: float, base: float, se: float, sparsity: str = "0.50", chance: float = 25.0,
               task: str = "t") -> list[list]:
    return [["m", "x", meth, sparsity, float(sparsity), task, "acc", v, se, chance, 100]
            for meth, v in (("sink_wanda", sink), ("wanda", base))]


@pytest.mark.parametrize("sink,base,se,verdict", [
    (70.0, 60.0, 2.0, "sink-aware better"),          # diff 10, se 2.83
    (60.0, 70.0, 2.0, "baseline better"),
    (62.0, 60.0, 2.0, "no significant difference"),  # diff 2 < 2 * 2.83
    (26.0, 25.5, 2.0, "uninformative (both near chance)"),
    (70.0, 60.0, float("nan"), "no stderr: not tested"),
])
def test_pair_verdicts(sink: float, base: float, se: float, verdict: str) -> None:
    pairs = claims.pruning_pairs(pd.DataFrame(_pair_rows(sink, base, se), columns=MAIN_COLUMNS))
    assert pairs["verdict"].tolist() == [verdict]
    assert pairs["diff"].iloc[0] == pytest.approx(sink - base)


def test_claim_lines_are_honest_about_highest_sparsity() -> None:
    rows = (_pair_rows(70, 60, 1.0, "0.25") + _pair_rows(55, 50, 1.0, "0.50")
            + _pair_rows(40, 38, 1.0, "0.75"))
    summary = claims.pruning_summary(claims.pruning_pairs(pd.DataFrame(rows, columns=MAIN_COLUMNS)))
    lines = claims.pruning_claims(summary)
    assert "significantly better at 2 of 3 sparsities" in lines[0]
    assert "not supported" in lines[0]
    assert "largest mean gain +10.00 pp at sparsity 0.25" in lines[1] and "not supported" in lines[1]


def _claim_json(holds: list[bool | None]) -> dict:
    """A claim file in the layout sinkprune.sinks.claim writes (values made up for the test)."""
    est = {"value": 0.5, "ci": [0.1, 0.9]}
    records = [{"ar_model": f"ar{i}", "holds": h, "outcome": "holds: ..." if h else "not shown: ...",
                "excess_over_untrained_gap": est, "dlm_trained": est, "ar_trained": est,
                "dlm_untrained": est, "ar_untrained": est} for i, h in enumerate(holds)]
    return {"claim": "DLM sinks move more", "test": "diff-in-diff", "summary": {"tiny-llada": records},
            "missing": ["tiny-mmada"],
            "comparisons": [{"dlm_model": "tiny-llada", "ar_model": "ar0", "dlm_trajectory": "noised",
                             "statistic": "dominant_var", "expected": "DLM > AR",
                             "excess_over_untrained_gap": {"value": 1.25, "ci": [None, None]},
                             "groups": {"dlm_trained": est, "dlm_random": {"value": 7.5, "ci": [7.0, 8.0]}},
                             "outcome": "undetermined"}]}


def _render(blocks: list) -> str:
    return render.render_markdown(blocks)


def test_sink_claim_absent(tmp_path: Path) -> None:
    assert "not found" in _render(sections.sink_claim_blocks(tmp_path / "sink_variance.json"))


@pytest.mark.parametrize("holds,verdict", [([True, True], "**holds** at this scale (2 of 2"),
                                           ([True, False], "**holds only in part** at this scale (1 of 2"),
                                           ([None], "**not shown** at this scale (0 of 1")])
def test_sink_claim_verdict_counts_primary_comparisons(tmp_path: Path, holds: list, verdict: str) -> None:
    (tmp_path / "sink_variance.json").write_text(json.dumps(_claim_json(holds)))
    md = _render(sections.sink_claim_blocks(tmp_path / "sink_variance.json"))
    assert "Claim: DLM sinks move more" in md and verdict in md
    assert "| tiny-llada | ar0 |" in md and "0.5 [0.1, 0.9]" in md
    assert "No comparison possible for: tiny-mmada" in md
    assert "1.25 [undefined, undefined]" in md
    assert "| 0.5 [0.1, 0.9] | 7.5 [7, 8] |" in md  # DLM trained beside its random control


def test_sink_claim_unknown_layout_lists_values(tmp_path: Path) -> None:
    (tmp_path / "sink_variance.json").write_text(json.dumps({"holds": False, "dlm": {"var": 0.01234}}))
    md = _render(sections.sink_claim_blocks(tmp_path / "sink_variance.json"))
    assert "**does not hold**" in md and "| dlm.var | 0.01234 |" in md


def test_control_sections_read_the_files_given(tmp_path: Path) -> None:
    claim = tmp_path / "sink_variance.json"
    claim.write_text(json.dumps(_claim_json([True])))
    power = tmp_path / "elsewhere" / "sink_power.json"
    power.parent.mkdir()
    power.write_text(json.dumps({"n_sequences": 64, "repetitions": 5, "power_target": 0.8,
                                 "smallest_detectable_excess": 0.25, "false_positive_rate": 0.0,
                                 "grid": [{"strength": 0.0, "power": 0.0, "mean_excess": 0.0, "sd_excess": 0.1,
                                           "mean_dlm_top1_share": 0.2}]}))
    md = _render(sections.control_blocks(claim, [power, tmp_path / "pruning.json"]))
    assert "Detection power at N = 64" in md and "**0.25**" in md and "tiny-llada 0.5 [0.1, 0.9]" in md
    assert f"`{(tmp_path / 'pruning.json').as_posix()}` not found" in md
    none_given = _render(sections.control_blocks(claim, []))
    assert "No `sink_power.json` given" in none_given and "No `pruning.json` given" in none_given


# ---------------------------------------------------------------------------- CLI
def test_cli_writes_deterministic_md_and_html(tmp_path: Path) -> None:
    main_csv = tmp_path / "main.csv"
    pd.DataFrame(_pair_rows(70, 60, 2.0), columns=MAIN_COLUMNS).to_csv(main_csv, index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scale: mini\naudit: {tolerance: 1.0, model_map: {}, task_map: {}}\n")
    args = ["--published", str(PUBLISHED), "--main", str(main_csv), "--claims", str(tmp_path / "claims" / "sink_variance.json"),
            "--config", str(cfg), "--out", str(tmp_path / "a.md"), "--html", str(tmp_path / "a.html")]
    assert audit_main(args) == 0
    md, page = (tmp_path / "a.md").read_text(), (tmp_path / "a.html").read_text()
    # 46 task rows fold into two lines; the 5 Avg rows and 3 untranscribed models stay as rows.
    assert md.count("| missing at this scale |") == 5 and md.count("| not transcribed |") == 3
    assert "unstructured table: 30 task rows missing" in md and "structured table: 16 task rows" in md
    # The page opens with what was compared: claim verdicts before the published numbers.
    opening = md.index("## What was compared at this scale")
    assert opening < md.index("## 1. Published numbers") and "significantly better at 1 of 1" in md[opening:md.index("## 1.")]
    assert "No protocol-difference table" in md and "docs/deviations.md" in md
    assert "<table>" in page and "sink_variance.json" in page
    assert audit_main(args) == 0
    assert (tmp_path / "a.md").read_text() == md  # no timestamps


def test_cli_fail_on_mismatch(tmp_path: Path) -> None:
    main_csv = tmp_path / "main.csv"
    _ours_from_published({("dense", "0.00", "MMLU"): 5.0}).to_csv(main_csv, index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scale: paper\naudit:\n  tolerance: 1.0\n  model_map: {LLaDA-8B-Base: llada}\n"
                   "  task_map: " + json.dumps(PAPER_TASKS) + "\n")
    base = ["--published", str(PUBLISHED), "--main", str(main_csv), "--claims", str(tmp_path / "sink_variance.json"),
            "--config", str(cfg), "--out", str(tmp_path / "a.md")]
    assert audit_main(base) == 0
    assert audit_main(base + ["--fail-on-mismatch"]) == 1
    md = (tmp_path / "a.md").read_text()
    assert re.search(r"\| dense \| 0 \| MMLU \| 65\.97 \|.*\| 5\.00 \|[^|]*\|[^|]*\| fail \|", md)


def test_protocol_difference_section(tmp_path: Path) -> None:
    diff = tmp_path / "protocol_diff.csv"
    pd.DataFrame([["tiny-llada", "wanda", "0.50", 0.0], ["tiny-llada", "magnitude", "0.50", 3e-5]],
                 columns=["model", "method", "sparsity", "share_differing"]).to_csv(diff, index=False)
    md = _render(sections.protocol_diff_blocks([diff, tmp_path / "absent.csv"]))
    assert "| tiny-llada | magnitude | 0.50 | 0.003 |" in md and "| tiny-llada | wanda | 0.50 | 0.000 |" in md
    assert md.index("magnitude") < md.index("| wanda")
    (tmp_path / "bad.csv").write_text("model,method\nx,y\n")
    with pytest.raises(ValueError, match="share_differing"):
        sections.protocol_diff_blocks([tmp_path / "bad.csv"])
