"""Planted positive controls: the planted models keep their property, the claim test sees them,
and the power / pruning summaries are computed right. Small architecture, CPU, a few seconds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from sinkprune.controls.data import control_rows, sink_first_rows
from sinkprune.controls.planted import Arch, build_background, first_token_ids, plant, plant_massive
from sinkprune.controls.pruning import gain_summary, nonsink_error, t_interval
from sinkprune.controls.settings import ControlSettings
from sinkprune.controls.sinks import (
    control_trajectories,
    judge_pair,
    pair_trajectories,
    power_summary,
    smallest_detectable,
)
from sinkprune.sinks.settings import SinkSettings

ARCH = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128,
        "tie_embeddings": True, "init_std": 0.08}
SEQ = 64
CONFIG = {"seed": 0, "controls": {"seed": 7, "arch": ARCH, "vocab_size": 256, "seq_len": SEQ,
                                  "sinks": {"strength": 0.3, "power_strengths": [0.0, 0.3], "power_reps": 2}}}


@pytest.fixture(scope="module")
def controls() -> ControlSettings:
    return ControlSettings.from_config(CONFIG)


@pytest.fixture(scope="module")
def analysis() -> SinkSettings:
    return SinkSettings(diffusion_steps=50, sample_every=5, analysis_samples=8, bootstrap=200, untrained_seeds=3)


@pytest.fixture(scope="module")
def runs(controls, analysis) -> dict:
    """Repetition 0: untrained controls {(group, side)}, planted pair (strength 0.3), untrained pair (strength 0)."""
    return {"control": control_trajectories(controls, analysis, 0),
            "planted": pair_trajectories(controls, analysis, 0, 0.3),
            "untrained": pair_trajectories(controls, analysis, 0, 0.0)}


def _dominant(traj) -> np.ndarray:
    return traj.mass.sum(axis=(2, 3)).argmax(axis=-1)  # [T, N]


def test_strength_zero_is_the_untrained_model(controls):
    a = build_background(controls.dlm(), 3)
    b = plant(build_background(controls.dlm(), 3), 0.0)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    c = plant(build_background(controls.dlm(), 3), 0.3)
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))


def test_planted_dlm_sink_moves_between_the_ends(runs):
    traj = runs["planted"]["dlm"]
    dominant = _dominant(traj)
    # Sparse masks (low t): BOS; dense masks (t = 1): EOS at the last position.
    assert (dominant[0] == 0).all()
    assert (dominant[-1] == SEQ - 1).all()
    # It moves within every sequence, and only between the two ends.
    assert set(np.unique(dominant)) == {0, SEQ - 1}
    assert ((dominant == 0).any(axis=0) & (dominant == SEQ - 1).any(axis=0)).all()


def test_planted_ar_sink_stays_on_the_first_token(runs):
    planted, control = runs["planted"]["ar"], runs["control"][("control", "ar")]
    assert (_dominant(planted) == 0).all()
    # Strong: far more mass on the first token than the untrained model gives it.
    share = lambda t: (t.mass.sum(axis=(2, 3))[..., 0] / t.mass.sum(axis=(2, 3, 4))).mean()
    assert share(planted) > 1.5 * share(control)


def test_claim_test_sees_planted_pair_not_untrained_pair(runs, analysis):
    planted = judge_pair(runs["planted"], runs["control"], analysis)
    untrained = judge_pair(runs["untrained"], runs["control"], analysis)
    assert planted["holds"] is True and planted["excess_over_untrained_gap"]["ci"][0] > 0
    assert untrained["holds"] is False and untrained["outcome"].startswith("not shown")
    low, high = untrained["excess_over_untrained_gap"]["ci"]
    assert low < 0 < high and untrained["untrained_seeds"] == 3


def test_untrained_controls_are_distinct_seeds(runs, controls, analysis):
    """One control per seed index and side, each a different initialisation; the tested pairs'
    backgrounds are none of them."""
    assert sorted(runs["control"]) == [(g, s) for g in ("control", "control-s1", "control-s2") for s in ("ar", "dlm")]
    masses = [t.mass for (g, s), t in runs["control"].items() if s == "dlm"] + [runs["untrained"]["dlm"].mass]
    assert all(not np.array_equal(a, b) for i, a in enumerate(masses) for b in masses[i + 1:])
    seeds = {controls.control_seed(r, i) for r in range(controls.power_reps) for i in range(analysis.untrained_seeds)}
    assert not seeds & {controls.rep_seeds(r)["planted"] for r in range(controls.power_reps)}


def test_planted_families_need_a_query_bias():
    with pytest.raises(ValueError, match="q/k biases"):
        build_background(Arch("llama", ARCH, 256, SEQ), 0)


def test_control_rows_are_seeded_and_framed():
    a, b = control_rows(4, 16, 100, 1), control_rows(4, 16, 100, 1)
    assert torch.equal(a, b) and not torch.equal(a, control_rows(4, 16, 100, 2))
    assert (a[:, 0] == 0).all() and (a[:, -1] == 1).all() and (a[:, 1:-1] >= 4).all()


def test_smallest_detectable_interpolates_the_crossing():
    assert smallest_detectable([0.0, 0.1, 0.2], [0.0, 0.6, 1.0]) == pytest.approx(0.15)
    assert smallest_detectable([0.0, 0.1], [0.0, 0.5]) is None
    assert smallest_detectable([0.2, 0.0], [1.0, 0.9]) == 0.0


def test_power_summary_counts_holds(controls, analysis):
    table = pd.DataFrame({"strength": [0.0, 0.0, 0.3, 0.3], "rep": [0, 1, 0, 1], "excess": [0.0, 0.01, 0.2, 0.22],
                          "holds": [False, False, True, True], "dlm_top1_share": [0.01] * 4})
    summary = power_summary(table, controls, analysis)
    assert [g["power"] for g in summary["grid"]] == [0.0, 1.0]
    assert summary["false_positive_rate"] == 0.0
    assert summary["smallest_detectable_excess"] == pytest.approx(0.005 + 0.8 * 0.205)


def _massive(channels: int = 4):
    model = build_background(Arch("dream", dict(ARCH, init_std=0.02), 256, SEQ), 1)
    dims, _ = plant_massive(model, channels=channels, gain=64.0)
    return model, dims


def _gate_input(model, ids: torch.Tensor, layer: int = 1) -> torch.Tensor:
    captured = {}
    def keep(_module, inputs, _output) -> None:
        captured["x"] = inputs[0]

    hook = model.layers[layer].mlp.gate_proj.register_forward_hook(keep)
    with torch.no_grad():
        model(ids)
    hook.remove()
    return captured["x"]  # [B, S, D] normalised input of a later layer


def test_massive_sink_dominates_its_channels_only():
    model, dims = _massive()
    x = _gate_input(model, sink_first_rows(4, SEQ, 256, first_token_ids(4), 0))
    assert (x[:, 1:, dims] == 0).all()  # no other token has them
    norms = x.pow(2).sum(dim=(0, 1)).sqrt()
    others = torch.ones(x.shape[-1], dtype=torch.bool)
    others[dims] = False
    assert norms[dims].min() > 3 * norms[others].max()  # the sink dominates them


def test_massive_sink_spans_its_channels_with_equal_norms():
    """Over rows that start with each first token the sink's rows of XᵀX have full rank in R
    (what makes SparseGPT pay for them) and equal per-channel norms (what Wanda sees)."""
    model, dims = _massive()
    sink = _gate_input(model, sink_first_rows(4, SEQ, 256, first_token_ids(4), 0))[:, 0, dims].double()
    assert torch.linalg.matrix_rank(sink) == len(dims)
    gram = sink.T @ sink
    assert torch.allclose(gram, gram[0, 0] * torch.eye(len(dims), dtype=gram.dtype), rtol=1e-4, atol=1e-4 * gram[0, 0])


def test_massive_sink_channels_matter_only_for_the_sink():
    """Zeroing every weight that reads R leaves the other positions' outputs as they were."""
    from sinkprune.controls.pruning import nonsink_error

    model, dims = _massive()
    pruned = build_background(Arch("dream", dict(ARCH, init_std=0.02), 256, SEQ), 1)
    plant_massive(pruned, channels=4, gain=64.0)
    with torch.no_grad():
        for layer in pruned.layers:
            for linear in (layer.self_attn.q_proj, layer.mlp.gate_proj, layer.mlp.up_proj):
                linear.weight[:, dims] = 0.0
    assert nonsink_error(pruned, model, sink_first_rows(4, SEQ, 256, first_token_ids(4), 1)) < 1e-3


def test_massive_sink_is_a_sink_and_survives_pruning_of_its_channels():
    from sinkprune.prune.settings import PruneSettings
    from sinkprune.prune.stats import compute_shared_stats

    model, _ = _massive()
    shared = compute_shared_stats(model, sink_first_rows(4, SEQ, 256, first_token_ids(4), 0),
                                  dataclasses.replace(PruneSettings().sinks, diffusion_steps=10), 0)
    assert (shared.scores[:, :, 0] > 0.99).all()
    assert (shared.scores[:, :, 1:] < 0.5).all()


@pytest.mark.parametrize("spanning", [True, False])
def test_sparsegpt_pays_for_a_spanning_sink_and_folds_a_fixed_one(spanning):
    """The premise of sink-aware SparseGPT, by construction: with the sink spanning R, SparseGPT
    keeps most weights reading R (budget spent on the sink) and sink-aware SparseGPT removes them
    all. A sink that is one fixed vector (every row starts with the same first token) is rank 1 in
    XᵀX: SparseGPT then removes a large share of R's weights itself (their inputs are
    collinear, and its update folds them into the weights it keeps), leaving sink-aware
    SparseGPT little to gain."""
    import copy

    from sinkprune.prune.methods import prune_model
    from sinkprune.prune.settings import PruneSettings
    from sinkprune.prune.sparsity import parse_sparsity
    from sinkprune.prune.stats import compute_shared_stats

    model, dims = _massive()
    calib = sink_first_rows(8, SEQ, 256, first_token_ids(4), 0)
    if not spanning:
        calib[:, 0] = first_token_ids(4)[0]
    settings = PruneSettings(sinks=dataclasses.replace(PruneSettings().sinks, diffusion_steps=10))
    shared = compute_shared_stats(model, calib, settings.sinks, 0)
    removed = {}
    for method in ("sparsegpt", "sink_sparsegpt"):
        pruned = copy.deepcopy(model)
        prune_model(pruned, method, parse_sparsity("0.50"), calib, shared, settings)
        removed[method] = float((pruned.layers[1].mlp.gate_proj.weight[:, dims] == 0).float().mean())
    assert removed["sink_sparsegpt"] == 1.0
    if spanning:
        assert removed["sparsegpt"] < 0.1, removed
    else:
        assert removed["sparsegpt"] > 0.3, removed


def test_pruning_control_rejects_what_would_break_its_premise():
    from sinkprune.controls.planted import sign_patterns
    from sinkprune.controls.pruning import control_batches

    with pytest.raises(ValueError, match="controls.pruning.channels must be a power of 2"):
        sign_patterns(12)
    short = dict(CONFIG["controls"], pruning={"channels": 16, "n_samples": 8})
    with pytest.raises(ValueError, match="controls.pruning.n_samples"):
        control_batches(ControlSettings.from_config({"controls": short}), 0)
    rows = sink_first_rows(8, SEQ, 256, first_token_ids(4), 0)
    assert rows[:, 0].tolist() == first_token_ids(4) * 2
    assert (rows[:, 1:-1] > max(first_token_ids(4))).all()  # first tokens appear nowhere else


def test_nonsink_error_ignores_the_sink_position():
    dense = build_background(Arch("dream", dict(ARCH, init_std=0.02), 256, SEQ), 1)
    ids = control_rows(2, SEQ, 256, 0)
    assert nonsink_error(dense, dense, ids) == 0.0


def test_gain_summary_verdicts():
    rows = []
    for rep, (base, sink) in enumerate([(10.0, 8.0), (11.0, 8.5), (10.5, 8.2)]):
        for setting, (b, s) in (("planted", (base, sink)), ("no_sink", (base, base + (rep - 1) * 0.1))):
            rows += [{"rep": rep, "setting": setting, "sparsity": "0.50", "method": m, "error_pct": v}
                     for m, v in (("wanda", b), ("sink_wanda", s), ("sparsegpt", b), ("sink_sparsegpt", s))]
    out = {(g["setting"], g["sink_method"]): g for g in gain_summary(pd.DataFrame(rows))}
    assert out[("planted", "sink_wanda")]["verdict"] == "sink-aware better"
    assert out[("no_sink", "sink_wanda")]["verdict"] == "no significant difference"
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and low < 2.0 < high


@pytest.mark.slow
def test_planted_pruning_gain_for_both_methods_and_none_without_sink():
    """The mini config's pruning control (its repetitions R, and R − 1): in the planted setting
    sink-aware Wanda and sink-aware SparseGPT are significantly better than their bases at every
    sparsity; the matched no-sink setting shows no significant difference."""
    from sinkprune.config import REPO_ROOT, load_config, set_threads
    from sinkprune.controls.pruning import error_table
    from sinkprune.prune.settings import PruneSettings

    config = load_config(REPO_ROOT / "config" / "mini.yaml")
    controls = ControlSettings.from_config(config)
    threads = torch.get_num_threads()
    set_threads(config)  # as the CLI runs it: the same sums, the same numbers
    try:
        table = error_table(controls, PruneSettings.from_config(config))
    finally:
        torch.set_num_threads(threads)
    for reps in (controls.prune_reps, controls.prune_reps - 1):
        for g in gain_summary(table[table["rep"] < reps]):
            expected = "sink-aware better" if g["setting"] == "planted" else "no significant difference"
            assert g["verdict"] == expected, (reps, g)


def test_claim_json_controls_section(runs, analysis):
    from sinkprune.sinks.claim import control_report

    trajectories = runs["control"] | {(group, side): t for group in ("planted", "untrained")
                                      for side, t in runs[group].items()}
    report = control_report(trajectories, analysis, strength=0.3)
    assert set(report["pairs"]) == {"planted", "untrained"}
    primary = {g: next(c for c in cs if c["statistic"] == report["primary_statistic"])
               for g, cs in report["pairs"].items()}
    assert primary["planted"]["holds"] is True and primary["untrained"]["holds"] is False
    assert primary["untrained"]["gap_untrained_by_seed"] and len(primary["untrained"]["gap_untrained_by_seed"]) == 3
    assert all(len(c["excess_over_untrained_gap"]["ci"]) == 2 for cs in report["pairs"].values() for c in cs)
