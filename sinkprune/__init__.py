"""sinkprune: reproducibility suite for sink-aware pruning of diffusion language models.

Stages mirror ``rules/*.smk``: ``data`` → ``models`` → ``sinks`` → ``prune`` → ``evaluate`` →
``tables`` / ``figures`` → ``audit`` / ``checksums``. Every stage is a module with a
``sinkprune <stage>`` command line (:mod:`sinkprune.cli`) that the Snakemake rules call.
"""

__version__ = "0.1.0"
