"""The argument parser every stage's command line starts from: ``sinkprune <stage> [step] ...``."""

from __future__ import annotations

import argparse


def stage_parser(stage: str, doc: str | None, steps: dict[str, str] | None = None, *, offline: bool = False,
                 dest: str = "step") -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """Parser of ``sinkprune <stage>`` with the stage module's docstring as its description (layout
    kept), and one sub-parser per entry of ``steps`` (step name -> help line), by name; a step is
    then required and stored as ``args.<dest>``.

    ``offline``: the stage reads models and datasets only from the local Hugging Face cache that
    ``snakemake download`` filled (:func:`sinkprune.hub.use_offline_cache`), so a compute job
    never reaches for the network.
    """
    if offline:
        from sinkprune.hub import use_offline_cache

        use_offline_cache()
    parser = argparse.ArgumentParser(prog=f"sinkprune {stage}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if not steps:
        return parser, {}
    sub = parser.add_subparsers(dest=dest, required=True)
    return parser, {name: sub.add_parser(name, help=text) for name, text in steps.items()}
