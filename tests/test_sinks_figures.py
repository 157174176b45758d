"""Sink figures: every output file is written, deterministic, and fails loudly on an empty table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sinkprune.figures.sinks import main as figures_main
from sinkprune.figures.sinks import relative_mass, sink_variance
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.store import Trajectory, save_trajectory
from sinkprune.sinks.summary import SinkAnalysis, sinks_table

torch.set_num_threads(1)


def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    analysis = SinkAnalysis()
    for model, trajectory in (("ar", "ar_prefix"), ("dlm", "noised")):
        for state in ("trained", "untrained", "random"):
            analysis.shape[(model, state, trajectory)] = (10, 16)
            for scope in ("all", "layer0", "layer1"):
                for stat in ("dominant_var", "centroid_var"):
                    analysis.values[(model, state, trajectory, scope, stat)] = rng.random(6) * 0.1
    return sinks_table(analysis, {"ar": {"kind": "ar"}, "dlm": {"kind": "dlm"}}, SinkSettings(bootstrap=50))


def trajectory(lengths: list[int], seed: int) -> Trajectory:
    rng = np.random.default_rng(seed)
    t, s = len(lengths), max(lengths)
    mass = rng.gamma(1.0, size=(t, 2, 2, 2, s)).astype(np.float32)
    mass *= np.arange(s)[None, None, None, None, :] < np.array(lengths)[:, None, None, None, None]
    ids = np.zeros((t, 2, s), dtype=np.int32)
    return Trajectory(mass, ids, ids.astype(np.int8), np.array(lengths), np.array(lengths) / s,
                      {"kind": "ar_prefix"})


def test_relative_mass_is_in_multiples_of_uniform():
    rel = relative_mass(trajectory([3, 6], 0).mass, np.array([3, 6]))
    assert np.isnan(rel[0, 3:]).all()
    np.testing.assert_allclose(np.nanmean(rel, axis=1), 1.0)


def test_figures_are_written_and_deterministic(tmp_path):
    csv = tmp_path / "sinks.csv"
    table().to_csv(csv, index=False)
    for name in ("sink_variance", "sink_layers"):
        out = tmp_path / f"{name}.pdf"
        figures_main([name, "--table", str(csv), "--out", str(out)])
        first = out.read_bytes(), out.with_suffix(".png").read_bytes()
        figures_main([name, "--table", str(csv), "--out", str(out)])
        assert (out.read_bytes(), out.with_suffix(".png").read_bytes()) == first
    trained = save_trajectory(trajectory([4, 8, 12], 1), tmp_path / "m" / "trained" / "ar_prefix.npz")
    untrained = save_trajectory(trajectory([4, 8, 12], 2), tmp_path / "m" / "untrained" / "ar_prefix.npz")
    out = tmp_path / "heat" / "m.pdf"
    args = ["sink_heatmap", "--trained", str(trained), "--untrained", str(untrained), "--out", str(out)]
    figures_main(args)
    first = [out.with_suffix(x).read_bytes() for x in (".pdf", ".png", ".gif")]
    assert first[2][:6] == b"GIF89a"
    figures_main(args)
    assert [out.with_suffix(x).read_bytes() for x in (".pdf", ".png", ".gif")] == first


def test_empty_table_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no layer-summed rows"):
        sink_variance(table().iloc[0:0], tmp_path / "x.pdf")
