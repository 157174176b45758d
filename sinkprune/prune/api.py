"""File-level entry points of the prune stage (what the CLI and the Snakemake rules call)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
import yaml

from sinkprune.device import placement
from sinkprune.prune.methods import NEEDS_SHARED, STRUCTURED, dense_statistics, prune_model
from sinkprune.prune.protocol_diff import weight_masks
from sinkprune.prune.report import peak_rss_mb, sparsity_report
from sinkprune.prune.settings import PruneSettings
from sinkprune.prune.sparsity import parse_sparsity
from sinkprune.prune.stats import SharedStats, compute_shared_stats


def load_calibration(path: str | Path) -> torch.Tensor:
    """``input_ids`` LongTensor ``[N, S]`` from calibration.pt."""
    data = torch.load(path, weights_only=True)
    ids = data["input_ids"] if isinstance(data, dict) else data
    if ids.dim() != 2:
        raise ValueError(f"{path}: input_ids must be [N, S], got {tuple(ids.shape)}")
    return ids.long()


def _setup(config_path: str | Path) -> tuple[PruneSettings, torch.device, torch.dtype]:
    settings = PruneSettings.from_yaml(config_path)
    # Results are only byte-identical at a fixed thread count.
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    # Device and dtype stay out of PruneSettings: its fields are written into every report.
    device, dtype = placement(yaml.safe_load(Path(config_path).read_text()) or {})
    return settings, device, dtype


def run_stats(model_dir: str | Path, calib: str | Path, config: str | Path, out: str | Path) -> SharedStats:
    """Compute and save the sink scores of the dense model at ``model_dir`` (shared.pt)."""
    from sinkprune.models import load_model

    settings, device, dtype = _setup(config)
    model = load_model(model_dir, device=device, dtype=dtype)
    ids = load_calibration(calib)
    start = time.perf_counter()
    shared = compute_shared_stats(model, ids, settings.sinks, settings.seed, protocol=settings.protocol)
    seconds = time.perf_counter() - start
    shared.meta["model"] = str(model_dir)
    shared.save(out)
    # The wall time goes to the log, not into shared.pt: files under results/ are byte-identical
    # across reruns of the same config.
    print(f"sink scores of {model_dir}: {len(shared.timesteps)} timesteps × {ids.shape[0]} "
          f"sequences in {seconds:.1f} s → {out}")
    return shared


def run_pruning(model_dir: str | Path, calib: str | Path, shared_path: str | Path | None, method: str,
                sparsities: list[str], config: str | Path, outs: list[str | Path],
                reports: list[str | Path], timings: list[str | Path] | None = None) -> list[dict[str, Any]]:
    """Prune the dense model at ``model_dir`` once per sparsity; save each to ``outs[i]``.

    Several sparsities share one process so that imports, the calibration batch, the shared
    statistics and the method's own statistics of the dense model are loaded or measured once
    (at mini scale a job's start-up costs more than its pruning); the first sparsity's wall time
    includes that measurement.
    ``reports[i]`` gets the deterministic JSON report; the measured wall time and peak memory go
    to ``timings[i]`` when given (kept outside results/, which must be byte-identical on rerun).
    """
    from sinkprune.models import load_model

    if not (len(sparsities) == len(outs) == len(reports)) or (timings and len(timings) != len(sparsities)):
        raise ValueError("--sparsity, --out, --report (and --timing) need one entry per sparsity")
    settings, device, dtype = _setup(config)
    ids = load_calibration(calib)
    shared = None
    if method in NEEDS_SHARED:
        shared = SharedStats.load(shared_path)
        shared.check_compatible(ids, settings.sinks, settings.protocol)
    return _prune_sparsities(lambda: load_model(model_dir, device=device, dtype=dtype), model_dir, ids, shared,
                             shared_path, method, sparsities, settings, outs, reports, timings)


def _prune_sparsities(fresh_model: Callable[[], Any], model_dir: str | Path, ids: torch.Tensor,
                      shared: SharedStats | None, shared_path: str | Path | None, method: str,
                      sparsities: list[str], settings: PruneSettings, outs: list[str | Path],
                      reports: list[str | Path], timings: list[str | Path] | None,
                      masks: dict[tuple[str, str], torch.Tensor] | None = None) -> list[dict[str, Any]]:
    """Prune ``fresh_model()`` (a dense copy) once per sparsity; write checkpoints, reports, timings.

    masks: when given, receives each unstructured pruned model's zero pattern under
    ``(method, sparsity string)`` (the protocol difference reuses it).
    """
    from sinkprune.models import save_model

    specs = [parse_sparsity(s) for s in sparsities]
    results = []
    dense = None
    for i, spec in enumerate(specs):
        model = fresh_model()
        dense_params = sum(p.numel() for p in model.parameters())
        start = time.perf_counter()
        if i == 0:  # the first model is still dense; its statistics serve every sparsity
            dense = dense_statistics(model, method, ids, shared, settings.released)
        prune_model(model, method, spec, ids, shared, settings, dense)
        wall = time.perf_counter() - start
        if masks is not None and method not in STRUCTURED:
            masks[(method, sparsities[i])] = weight_masks(model)
        save_model(model, outs[i])
        result = {
            "model": str(model_dir), "method": method, "sparsity": spec.tag,
            "sparsity_type": "structured" if method.endswith("structured") else ("n:m" if spec.is_nm else "unstructured"),
            "target_ratio": spec.ratio, **sparsity_report(model), "dense_parameters": dense_params,
            "seed": settings.seed, "protocol": settings.protocol, "hyperparameters": settings.as_dict(), "n_calibration": int(ids.shape[0]),
            "calibration_seq_len": int(ids.shape[1]),
            "shared_stats": None if shared is None else str(shared_path),
        }
        Path(reports[i]).parent.mkdir(parents=True, exist_ok=True)
        Path(reports[i]).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        measured = {"method": method, "sparsity": spec.tag, "wall_time_s": round(wall, 4),
                    "peak_rss_mb": peak_rss_mb()}
        if timings:
            Path(timings[i]).parent.mkdir(parents=True, exist_ok=True)
            Path(timings[i]).write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
        print(f"{method} {spec.tag}: overall sparsity {result['overall_sparsity']:.4f}, "
              f"{result['parameters']} parameters, {wall:.2f} s, peak RSS {measured['peak_rss_mb']:.0f} MB")
        results.append(result)
    return results


def method_sparsities(config: dict[str, Any], method: str) -> list[str]:
    """Sparsities of ``method`` in the config: ``prune.structured_ratios`` for structured methods."""
    prune = config["prune"]
    return list(prune.get("structured_ratios", []) if method in STRUCTURED else prune["sparsities"])


def run_model(model_dir: str | Path, name: str, calib: str | Path, config: str | Path, out_dir: str | Path,
              timing_dir: str | Path | None = None) -> None:
    """The whole prune stage of one model in one process (``prune.group_sparsities: true``).

    Loads the dense model once and writes what the per-step commands write: ``{out_dir}/shared.pt``
    (when a method of the config reads it), ``{out_dir}/{method}/{sparsity}/model`` and
    ``report.json`` for every method and sparsity of the config, ``{out_dir}/protocol_diff.csv``,
    and ``{timing_dir}/{method}/{sparsity}.json``. Each method starts from the seeded state a
    process of its own would have and prunes a copy of the dense model, so every file equals the
    per-step commands' (``stats``, ``run``, ``diff``); at mini scale the imports and loading of
    those ~10 processes per model cost more than the work.
    """
    import copy

    from sinkprune.models import load_model
    from sinkprune.prune.protocol_diff import KnownMasks, write_protocol_diff

    settings, device, dtype = _setup(config)
    raw = yaml.safe_load(Path(config).read_text()) or {}
    methods = list(raw["prune"]["methods"])
    ids = load_calibration(calib)
    dense_model = load_model(model_dir, device=device, dtype=dtype)
    shared, shared_path = None, f"{out_dir}/shared.pt"  # the path string the reports record
    if any(m in NEEDS_SHARED for m in methods):
        shared = compute_shared_stats(dense_model, ids, settings.sinks, settings.seed, protocol=settings.protocol)
        shared.meta["model"] = str(model_dir)
        shared.save(shared_path)
        shared = SharedStats.load(shared_path)  # exactly what a `run` process reads
        shared.check_compatible(ids, settings.sinks, settings.protocol)
        print(f"sink scores of {model_dir}: {len(shared.timesteps)} timesteps × {ids.shape[0]} sequences → {shared_path}")
    known = KnownMasks(settings.protocol, shared=shared)
    for method in methods:
        torch.manual_seed(settings.seed)  # as `run` seeds its process
        specs = method_sparsities(raw, method)
        base = [f"{out_dir}/{method}/{s}" for s in specs]
        _prune_sparsities(lambda: copy.deepcopy(dense_model), model_dir, ids,
                          shared if method in NEEDS_SHARED else None, shared_path, method, specs, settings,
                          [f"{b}/model" for b in base], [f"{b}/report.json" for b in base],
                          [f"{timing_dir}/{method}/{s}.json" for s in specs] if timing_dir else None, known.masks)
    # The config's own protocol was just pruned: the difference prunes only the other one.
    write_protocol_diff(dense_model, name, ids, raw, f"{out_dir}/protocol_diff.csv", known)
