"""Evaluate stage: lm-eval over sinkprune checkpoints and the offline mini tasks.

Modules: ``tasks`` (build the eight mini tasks), ``paper_tasks`` (the paper's lm-eval task
names), ``likelihood`` (exact / Monte Carlo log-likelihood), ``lm`` (the registered lm-eval
model ``sinkprune``), ``run`` (checks, ``simple_evaluate``, stable JSON), ``__main__`` (CLI).
Importing this package stays light; ``sinkprune.evaluate.lm`` registers the model on import.
"""
