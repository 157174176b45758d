"""Content hash of the package source a workflow stage runs, so editing the code reruns it.

Why by hand: Snakemake's ``code`` rerun trigger covers ``run:`` and ``script:`` rules only; the
rules here are ``shell:`` rules calling ``python -m sinkprune.<stage>``, so without this an edit
to the package leaves stale results in place. Each rule passes :func:`code_hash` of the modules
it runs as a param; Snakemake's ``params`` trigger then reruns exactly the stages whose import
closure changed. Only the package's own modules count (imports of other libraries are the
environment's business, recorded in ``results/provenance.json``).
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "sinkprune"


def module_file(name: str, root: Path) -> Path | None:
    """Source file of module ``name`` (``a.b`` → ``a/b.py`` or ``a/b/__init__.py``) under ``root``."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(name: str, path: Path) -> str:
    """The package relative imports in module ``name`` resolve against."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every AST node of a source file; parsed once per content (the code hash, the closure and
    the config lookups of each rule read the same files at every DAG build)."""
    return _parsed_nodes(path.read_text(encoding="utf-8"), str(path))


@lru_cache(maxsize=None)
def _parsed_nodes(text: str, filename: str) -> tuple[ast.AST, ...]:
    return tuple(ast.walk(ast.parse(text, filename=filename)))


def imported_modules(name: str, path: Path) -> set[str]:
    """Names of the package modules that ``path`` (module ``name``) imports anywhere in its body,
    function-level imports included; ``from a import b`` yields ``a`` and, if it is one, ``a.b``.
    String constants naming a package module count too (lazy ``import_module("sinkprune.x")``)."""
    found: set[str] = set()
    for node in _nodes(path):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = _package_of(name, path).split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` → ``[a, a.b, a.b.c]``: importing a module runs every parent package's __init__."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def package_modules(name: str, root: Path) -> list[str]:
    """``name`` and, when it is a package, every module below it (``a`` → ``a``, ``a.b``, ``a.c.d``)
    except command-line ``__main__`` modules (a rule names its entry module itself)."""
    path = module_file(name, root)
    if path is None or path.name != "__init__.py":
        return [name]
    below = sorted(path.parent.rglob("*.py"))
    return [name] + [".".join((name, *p.relative_to(path.parent).with_suffix("").parts)).removesuffix(".__init__")
                     for p in below if p != path and p.name != "__main__.py"]


def source_closure(modules: tuple[str, ...], root: Path) -> list[Path]:
    """Every package source file the ``modules`` import, directly or transitively, sorted. A
    package named in ``modules`` counts whole: its sub-modules are often imported lazily."""
    seen: dict[str, Path] = {}
    todo = [m for name in modules for sub in package_modules(name, root) for m in _with_parents(sub)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name, root)
        if path is None:
            continue  # an imported name that is not a module (a function or class)
        seen[name] = path
        todo.extend(m for imported in imported_modules(name, path) for m in _with_parents(imported))
    return sorted(set(seen.values()))


@lru_cache(maxsize=None)
def code_hash(*modules: str, entry: str | None = None, root: str = ".") -> str:
    """sha256 (first 16 hex digits) over the paths and contents of the modules' source closure.

    ``entry``: the command-line module the rule calls (``sinkprune.data.__main__``); its own
    file counts, but not the lazy imports of its other sub-commands, so that editing the
    tokenizer does not rerun the corpus rule. Raises ValueError naming a missing module.
    """
    base = Path(root).resolve()
    missing = [m for m in modules + ((entry,) if entry else ()) if module_file(m, base) is None]
    if missing:
        raise ValueError(f"code_hash: no module {', '.join(missing)} under {base}")
    files = set(source_closure(modules, base))
    if entry:
        files.add(module_file(entry, base))
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _config_keys_in(path: Path) -> set[str]:
    """String keys a module looks up anywhere: ``x["key"]`` and ``x.get("key", ...)``."""
    keys: set[str] = set()
    for node in _nodes(path):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            value = node.slice.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant)):
            value = node.args[0].value
        else:
            continue
        if isinstance(value, str):
            keys.add(value)
    return keys


@lru_cache(maxsize=None)
def config_sections(*modules: str, entry: str | None = None, root: str = ".",
                    sections: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Top-level config sections (of ``sections``, the schema's) that the source a stage runs
    looks up: the same files as :func:`code_hash`. A rule passes those sections' values as a
    param, so its rerun trigger follows what its code reads instead of a hand-kept list.

    Read by name, not by data flow: a lookup of ``"seed"`` on any mapping counts, so the set may
    hold a section the stage does not read (an extra rerun), never miss one it reads by name.
    """
    base = Path(root).resolve()
    files = set(source_closure(modules, base))
    if entry:
        path = module_file(entry, base)
        if path is None:
            raise ValueError(f"config_sections: no module {entry} under {base}")
        files.add(path)
    found = set().union(*(_config_keys_in(f) for f in files)) if files else set()
    return tuple(s for s in sections if s in found)
