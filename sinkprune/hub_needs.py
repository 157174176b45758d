"""What a config needs from the Hugging Face hub, shared by `download` and `preflight`
(the cache itself: :mod:`sinkprune.hub`).

Models: every ``models.*.path`` that is a hub id (not a local directory, not trained in the
DAG), fetched with the allow patterns the loader reads (``CHECKPOINT_FILES``).
Datasets: the calibration dataset (``data.calibration.dataset`` / ``subset``) and, at paper
scale, the ``dataset_path`` / ``dataset_name`` of every lm-eval task the config evaluates, read
from lm-eval's own task YAMLs (groups such as ``mmlu`` expand to their 57 subject tasks).

Compute jobs never download: they call :func:`use_offline_cache` and read the cache that
`snakemake download` filled, because cluster nodes often have no network and a job that
silently downloads 16 GB per model would also race with its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sinkprune.hub import is_hub_id

# Datasets that need more than network: (what to do). Checked online by `download` too
# (HfApi().dataset_info(...).gated); listed here so an offline preflight can say it.
GATED = {
    "Idavidrein/gpqa": "gated: accept its terms at https://huggingface.co/datasets/Idavidrein/gpqa with your "
                       "Hugging Face account, then export HF_TOKEN (or run `hf auth login`) before `snakemake download`",
}


@dataclass(frozen=True)
class ModelNeed:
    """A checkpoint the config loads from the hub."""

    key: str  # config models.<key>
    repo_id: str


@dataclass
class DatasetNeed:
    """A dataset configuration ``load_dataset(path, name)`` must find, and who needs it."""

    path: str
    name: str | None
    users: list[str] = field(default_factory=list)  # "calibration", task names

    @property
    def label(self) -> str:
        """``path`` or ``path (name)``, as messages name a configuration."""
        return self.path if self.name is None else f"{self.path} ({self.name})"


def needed_models(config: dict) -> list[ModelNeed]:
    """Hub checkpoints of the config, in config order (mini models are trained, none needed)."""
    return [ModelNeed(key, spec["path"]) for key, spec in config["models"].items()
            if "train" not in spec and "path" in spec and is_hub_id(str(spec["path"]))]


def _task_folders(names: list[str]) -> list[str]:
    """lm-eval's built-in task folders whose name starts one of ``names`` (arc/ for
    arc_challenge, mmlu/ for mmlu …): indexing all ~10k task files takes 10–20 s, these < 1 s."""
    import lm_eval.tasks

    root = Path(lm_eval.tasks.__file__).parent
    return sorted(str(d) for d in root.iterdir() if d.is_dir() and any(n.startswith(d.name) for n in names))


def _leaf_datasets(index: dict, names: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """Walk groups and tags of an lm-eval task index down to their tasks' datasets."""
    unknown = [n for n in names if n not in index]
    if unknown:
        raise KeyError(f"unknown lm-eval task(s): {', '.join(unknown)}")

    def leaves(spec, seen: set[str]) -> list[tuple[str, str | None]]:
        if isinstance(spec, dict):  # an inline task or group inside a group's task list
            if "dataset_path" in spec:
                return [(spec["dataset_path"], spec.get("dataset_name"))]
            spec = spec.get("task") or spec.get("group")
        if isinstance(spec, list):
            return [d for s in spec for d in leaves(s, seen)]
        if spec in seen:
            return []
        seen.add(spec)
        entry = index.get(spec)
        if entry is None:
            raise KeyError(f"lm-eval task {spec!r} (member of a requested group) is not in the task index")
        cfg = entry.cfg or {}
        if entry.kind.name == "TAG":
            return [d for member in sorted(entry.tags) for d in leaves(member, seen)]
        if entry.kind.name == "GROUP":
            return leaves(cfg.get("task", []), seen)
        if "dataset_path" not in cfg:
            raise KeyError(f"lm-eval task {spec!r} ({entry.yaml_path}) names no dataset_path")
        return [(cfg["dataset_path"], cfg.get("dataset_name"))]

    return {n: sorted(set(leaves(n, set())), key=lambda d: (d[0], d[1] or "")) for n in names}


def task_datasets(names: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """``{task: [(dataset_path, dataset_name), ...]}`` from lm-eval's task configs (groups and
    tags expanded to their leaf tasks). Raises KeyError naming tasks lm-eval does not know."""
    from lm_eval.tasks import TaskManager

    folders = _task_folders(names)
    if folders:
        try:
            return _leaf_datasets(TaskManager(include_path=folders, include_defaults=False).task_index, names)
        except KeyError:
            pass  # a task or group member lives elsewhere: index everything
    return _leaf_datasets(TaskManager().task_index, names)


def needed_datasets(config: dict) -> list[DatasetNeed]:
    """Every dataset configuration the config loads: calibration, then each evaluated task's."""
    needs: dict[tuple[str, str | None], DatasetNeed] = {}

    def need(path: str, name: str | None, user: str) -> None:
        needs.setdefault((path, name), DatasetNeed(path, name)).users.append(user)

    calib = config["data"]["calibration"]
    if "dataset" in calib:
        need(calib["dataset"], calib.get("subset"), "calibration")
    perplexity = config["eval"].get("perplexity")
    if perplexity is not None and config["scale"] != "mini":  # mini reads the held-out text
        from sinkprune.evaluate.perplexity import PerplexitySettings

        ppl = PerplexitySettings.from_config(perplexity)
        need(ppl.dataset, ppl.subset, "perplexity")
    if config["scale"] != "mini":  # mini tasks are built by the DAG (rule tasks), not downloaded
        for task, datasets in task_datasets(list(config["eval"]["tasks"])).items():
            for path, name in datasets:
                if not Path(path).exists():
                    need(path, name, task)
    return list(needs.values())
