"""Evaluate stage: lm-eval over sinkprune checkpoints and the offline mini tasks.

Modules: ``tasks`` (build the eight mini tasks), ``likelihood`` (exact / Monte Carlo
log-likelihood), ``lm`` (the registered lm-eval model ``sinkprune``), ``run`` (checks,
``simple_evaluate``, stable JSON), ``__main__`` (CLI).
Importing this package stays light; ``sinkprune.evaluate.lm`` registers the model on import.
"""
