"""Data stage: offline corpus, tokenizer, pretokenized training streams, calibration batch.

The mini tasks are built from the synthetic skills of the training mix by
``sinkprune.evaluate.tasks``; the skill generators live in ``sinkprune.data.skills``.
"""
