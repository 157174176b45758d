"""The AR-vs-DLM sink claim, tested against the untrained control (results/claims/sink_variance.json).

Claim (docs/method.md §3): DLM sinks move over the denoising trajectory far more than AR sinks do
(temporal variance DLM ≫ AR), and AR attention is spatially more concentrated. An *untrained*
DLM already shows far more positional variance than an untrained AR model
(causal attention summed over queries always favours position 0), so the test is a
difference-in-differences: the claim holds for a DLM model when

    excess = (V_DLM,trained − V_AR,trained) − (V_DLM,untrained − V_AR,untrained) > 0

with its 95 % paired-bootstrap CI above 0 (for the concentration check the signs flip: AR − DLM).
The untrained gap is averaged over ``sinks.untrained_seeds`` initialisations of each architecture;
with two or more the CI also covers how much the gap varies between seeds (:func:`seed_interval`),
since one trained model is one initialisation and a sequence bootstrap cannot see that variation.
Each comparison also reports every group mean with its CI and the random-position control.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sinkprune.sinks.baseline import __doc__ as BASELINE_DOC
from sinkprune.sinks.bootstrap import LEVEL, bootstrap_indices, interval, resampled_means
from sinkprune.sinks.settings import SinkSettings
from sinkprune.sinks.stats import STATISTICS, nan_mean
from sinkprune.sinks.store import control_index, untrained_state
from sinkprune.sinks.summary import SinkAnalysis

# (statistic, direction): +1 when the claim expects DLM > AR, −1 when it expects AR > DLM.
CHECKS = (("dominant_var", 1), ("centroid_var", 1), ("top1_share", -1))
PRIMARY = "dominant_var"
AR_TRAJECTORY = "ar_prefix"
DLM_TRAJECTORIES = ("noised", "generate")
PRIMARY_DLM_TRAJECTORY = "noised"
GROUPS = (("dlm", "trained"), ("dlm", "untrained"), ("ar", "trained"), ("ar", "untrained"),
          ("dlm", "random"), ("ar", "random"))


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _estimate(point: float, samples: np.ndarray) -> dict[str, Any]:
    low, high = interval(samples, LEVEL)
    return {"value": _num(point), "ci": [_num(low), _num(high)]}


def _resample_indices(groups: dict[str, np.ndarray], settings: SinkSettings) -> dict[str, np.ndarray]:
    # Same sequence count → the same calibration sequences → one shared (paired) index matrix.
    sizes = {len(v) for v in groups.values()}
    if len(sizes) == 1:
        shared = bootstrap_indices(sizes.pop(), settings.bootstrap, settings.seed)
        return {name: shared for name in groups}
    return {name: bootstrap_indices(len(v), settings.bootstrap, settings.seed + 1 + i)
            for i, (name, v) in enumerate(sorted(groups.items()))}


def _untrained_pairs(analysis: SinkAnalysis, names: dict[str, tuple[str, str]], statistic: str) -> list[int]:
    """Seed indices with an untrained control on both sides (index 0 first)."""
    seeds = [set(analysis.untrained_seeds(model, trajectory, statistic)) for model, trajectory in names.values()]
    return sorted(set.intersection(*seeds))


def seed_interval(point: float, sequence_ci: tuple[float, float], seed_gaps: np.ndarray) -> tuple[float, float]:
    """CI of the excess widened by the spread of the untrained gap over initialisation seeds.

    The trained model is one initialisation: its gap would differ under another seed by as much
    as the untrained gaps differ between seeds. With K seed gaps of standard deviation s, a new
    seed's gap lies within t(K−1) · s · √(1 + 1/K) of their mean (95 % prediction interval);
    that half-width is added in quadrature to each side of the sequence-bootstrap interval.
    Conservative: s also holds some of the sequence noise the bootstrap already counts.
    """
    from scipy import stats as scipy_stats

    k = len(seed_gaps)
    half = float(scipy_stats.t.ppf(0.5 + LEVEL / 2, k - 1) * np.std(seed_gaps, ddof=1) * math.sqrt(1 + 1 / k))
    low, high = sequence_ci
    return point - math.hypot(point - low, half), point + math.hypot(high - point, half)


def compare(analysis: SinkAnalysis, dlm: str, ar: str, dlm_trajectory: str, statistic: str, direction: int,
            settings: SinkSettings) -> dict[str, Any] | None:
    """One difference-in-differences comparison, or None when a needed trajectory is missing.

    The untrained gap is the mean over every untrained seed both sides have (``sinks.untrained_seeds``);
    with two or more, the excess's CI also covers the seed-to-seed spread (:func:`seed_interval`).
    """
    names = {"dlm": (dlm, dlm_trajectory), "ar": (ar, AR_TRAJECTORY)}
    groups = {}
    for side, state in GROUPS:
        model, trajectory = names[side]
        values = analysis.get(model, state, trajectory, statistic)
        if values is None:
            if state == "random":
                continue
            return None
        groups[f"{side}_{state}"] = values
    seeds = _untrained_pairs(analysis, names, statistic)
    extra = {f"{side}_{untrained_state(i)}": analysis.get(model, untrained_state(i), trajectory, statistic)
             for side, (model, trajectory) in names.items() for i in seeds if i > 0}
    idx = _resample_indices(groups | extra, settings)
    point = {k: float(nan_mean(v)) for k, v in (groups | extra).items()}
    boot = {k: resampled_means(v, idx[k]) for k, v in (groups | extra).items()}
    # Per-seed untrained gaps (point, resamples); the untrained sides are their seed means.
    states = [untrained_state(i) for i in seeds]
    seed_gaps = np.array([direction * (point[f"dlm_{s}"] - point[f"ar_{s}"]) for s in states])
    for side in names:
        point[f"{side}_untrained"] = float(np.mean([point[f"{side}_{s}"] for s in states]))
        boot[f"{side}_untrained"] = np.mean([boot[f"{side}_{s}"] for s in states], axis=0)
    gap_trained = direction * (boot["dlm_trained"] - boot["ar_trained"])
    # The mean over seeds of each seed's gap is the gap of the seed-mean sides (linear).
    gap_untrained = direction * (boot["dlm_untrained"] - boot["ar_untrained"])
    untrained_point = float(seed_gaps.mean())
    excess = gap_trained - gap_untrained
    excess_point = direction * (point["dlm_trained"] - point["ar_trained"]) - untrained_point
    excess_est = _estimate(excess_point, excess)
    sequence_ci = list(excess_est["ci"])
    if len(seeds) > 1 and None not in sequence_ci:
        excess_est["ci"] = [_num(x) for x in seed_interval(excess_point, tuple(sequence_ci), seed_gaps)]
    low, high = excess_est["ci"]
    if low is None:
        holds, outcome = None, "undetermined: the statistic is undefined for some group (no sinks)"
    elif low > 0:
        holds, outcome = True, "holds: the trained gap exceeds the untrained gap (CI above 0)"
    elif high < 0:
        holds, outcome = False, "reversed: the trained gap is smaller than the untrained gap (CI below 0)"
    else:
        holds, outcome = False, "not shown: the CI of the excess over the untrained gap includes 0"
    expected = "DLM > AR" if direction > 0 else "AR > DLM"
    return {
        "dlm_model": dlm, "ar_model": ar, "dlm_trajectory": dlm_trajectory, "ar_trajectory": AR_TRAJECTORY,
        "statistic": statistic, "definition": STATISTICS[statistic], "expected": expected,
        "groups": {k: _estimate(point[k], boot[k]) for k in groups},
        "gap_trained": _estimate(direction * (point["dlm_trained"] - point["ar_trained"]), gap_trained),
        "gap_untrained": _estimate(untrained_point, gap_untrained),
        "untrained_seeds": len(seeds),
        "gap_untrained_by_seed": [_num(g) for g in seed_gaps],
        "excess_over_untrained_gap": excess_est,
        "excess_ci_sequences_only": sequence_ci,
        "paired_bootstrap": len({id(v) for v in idx.values()}) == 1,
        "holds": holds, "outcome": outcome,
    }


def claim_report(analysis: SinkAnalysis, models: dict, settings: SinkSettings) -> dict[str, Any]:
    """The claim JSON: every DLM × AR × trajectory × check comparison and a per-DLM headline."""
    kinds = {name: spec.get("kind") for name, spec in models.items()}
    dlms = sorted(m for m, k in kinds.items() if k == "dlm")
    ars = sorted(m for m, k in kinds.items() if k == "ar")
    comparisons = []
    for dlm in dlms:
        for ar in ars:
            for trajectory in DLM_TRAJECTORIES:
                for statistic, direction in CHECKS:
                    result = compare(analysis, dlm, ar, trajectory, statistic, direction, settings)
                    if result is not None:
                        comparisons.append(result)
    summary = {}
    for dlm in dlms:
        primary = [c for c in comparisons if c["dlm_model"] == dlm and c["statistic"] == PRIMARY
                   and c["dlm_trajectory"] == PRIMARY_DLM_TRAJECTORY]
        summary[dlm] = [{"ar_model": c["ar_model"], "holds": c["holds"], "outcome": c["outcome"],
                         "excess_over_untrained_gap": c["excess_over_untrained_gap"],
                         "dlm_trained": c["groups"]["dlm_trained"], "ar_trained": c["groups"]["ar_trained"],
                         "dlm_untrained": c["groups"]["dlm_untrained"],
                         "ar_untrained": c["groups"]["ar_untrained"]} for c in primary]
    missing = [m for m in dlms if not summary[m]]
    return {
        "claim": "Trained DLM sink temporal variance exceeds trained AR variance by more than the same "
                 "architectures show untrained (and AR attention is more concentrated).",
        "test": "difference-in-differences (V_DLM,trained - V_AR,trained) - (V_DLM,untrained - V_AR,untrained) "
                f"> 0 with its {int(LEVEL * 100)}% CI above 0: paired bootstrap over sequences, widened by the "
                f"spread of the untrained gap over {settings.untrained_seeds} initialisation seed(s) when there "
                f"are two or more (the untrained gap is their mean); primary statistic "
                f"{PRIMARY} ({STATISTICS[PRIMARY]}) on the DLM's {PRIMARY_DLM_TRAJECTORY} trajectory vs the "
                f"AR model's {AR_TRAJECTORY} trajectory (same number of timesteps, same sequences).",
        "random_baseline": " ".join(BASELINE_DOC.split()),
        "settings": {"bootstrap": settings.bootstrap, "level": LEVEL, "seed": settings.seed,
                     "rule": settings.rule, "alpha": settings.alpha, "k": settings.k, "hard_eps": settings.hard_eps,
                     "top_k": settings.top_k, "strong_head_ratio": settings.strong_head_ratio,
                     "untrained_seeds": settings.untrained_seeds},
        "summary": summary,
        "missing": missing,
        "comparisons": comparisons,
    }


# ----- planted and untrained controls (sinkprune.controls) -------------------------------------
CONTROL_GROUPS = {
    "planted": "planted pair: sinks written into the weights (DLM sink moving between the sequence's ends "
               "with the masking pattern, AR sink fixed on the first token); the test must say 'holds'",
    "untrained": "untrained pair: random initialisations of another seed, tested as if trained; "
                 "the test must not say 'holds'",
}
CONTROL_SIDES = {"dlm": PRIMARY_DLM_TRAJECTORY, "ar": AR_TRAJECTORY}


def control_analysis(trajectories: dict[tuple[str, str], Any], settings: SinkSettings) -> SinkAnalysis:
    """Layer-summed statistics of control trajectories ``{(group, side): Trajectory}``.

    Groups ``control``, ``control-s1`` … hold the untrained controls of each side (seed index 0,
    1, …); every other group is entered as the "trained" state of models ``{group}-dlm`` /
    ``{group}-ar`` whose untrained states are those controls, so :func:`compare` tests them
    exactly as it tests the real stand-ins.
    """
    from sinkprune.sinks.stats import sequence_statistics

    analysis = SinkAnalysis()
    stats = {key: sequence_statistics(t.mass, t.kinds, t.lengths, settings, "all")
             for key, t in trajectories.items()}
    controls = {(untrained_state(control_index(group)), side): values for (group, side), values in stats.items()
                if control_index(group) is not None}
    for (group, side), values in stats.items():
        if control_index(group) is not None:
            continue
        sources = [("trained", values)] + [(state, v) for (state, s), v in controls.items() if s == side]
        for state, source in sources:
            for name, v in source.items():
                analysis.values[(f"{group}-{side}", state, CONTROL_SIDES[side], "all", name)] = v
    return analysis


def control_report(trajectories: dict[tuple[str, str], Any], settings: SinkSettings,
                   strength: float | None = None) -> dict[str, Any]:
    """The claim JSON's ``controls`` section: every check for the planted and the untrained pair."""
    analysis = control_analysis(trajectories, settings)
    pairs = {}
    for group in CONTROL_GROUPS:
        if (group, "dlm") not in trajectories:
            continue
        pairs[group] = [c for statistic, direction in CHECKS
                        if (c := compare(analysis, f"{group}-dlm", f"{group}-ar", PRIMARY_DLM_TRAJECTORY,
                                         statistic, direction, settings)) is not None]
    return {"description": {g: d for g, d in CONTROL_GROUPS.items() if g in pairs},
            "primary_statistic": PRIMARY, "planted_strength": strength,
            "untrained_control": f"random initialisations of each architecture ({settings.untrained_seeds} "
                                 "seed(s) of the controls' own, none shared with the tested pairs); "
                                 "see docs/controls.md",
            "pairs": pairs}
