"""Controls stage: planted positive controls (rules/controls.smk, docs/controls.md).

``planted``: sinks written into models of the mini architecture; ``sinks``: planted and untrained
pairs through the claim test, and its detection power; ``pruning``: the planted pruning control.
"""
