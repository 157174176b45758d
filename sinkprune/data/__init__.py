"""Data stage: offline corpus, tokenizer, pretokenized training streams, calibration batch.

The mini tasks are built from the same held-out text and synthetic skills by
``sinkprune.evaluate.tasks``; the skill generators live in ``sinkprune.data.skills``.
"""
