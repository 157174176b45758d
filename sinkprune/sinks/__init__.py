"""Sink analysis, AR vs DLM (docs/method.md §1–3): trajectories of received attention mass, statistics
with controls (untrained model, random-position baseline), bootstrap CIs, table and claim check.

Modules: ``scores`` (sink scores), ``settings`` (config → SinkSettings), ``store``
(trajectory .npz files), ``kinds`` (token kinds), ``trajectory`` (noised / generate / ar_prefix
passes over a model), ``stats`` (per-sequence statistics), ``baseline`` (random-position
control), ``bootstrap``, ``summary`` (tidy table + LaTeX), ``claim`` (the AR-vs-DLM claim check).
CLI: ``sinkprune sinks {trajectory,summarize}``.
"""
