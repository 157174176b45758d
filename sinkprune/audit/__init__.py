"""Audit: our results beside the published numbers, and honest verdicts on the paper's claims.

``sinkprune audit`` (:mod:`sinkprune.audit.__main__`) writes ``results/audit.md`` and
``results/audit.html``. The page opens with what was compared (claim verdicts, and the share of
mask entries that differ between the ``released`` and ``corrected`` protocols); part 1 puts every
row of ``paper/published.csv`` beside our number for the same model, method, sparsity and task;
part 2 checks the paper's qualitative claims on whatever models this scale runs.

Modules, one concern each:

- :mod:`~sinkprune.audit.settings`: the ``audit:`` section of the config;
- :mod:`~sinkprune.audit.compare`: published rows beside ours (part 1);
- :mod:`~sinkprune.audit.claims`: sink-aware pruning against its baseline (part 2.2);
- :mod:`~sinkprune.audit.sections`: blocks read from the other stages' files (sink-variance
  claim, planted controls, protocol differences);
- :mod:`~sinkprune.audit.report`: the page's blocks in order;
- :mod:`~sinkprune.audit.render`: the same blocks as Markdown and as HTML.

The report is deterministic (no timestamps) so it can sit in the sha256 manifest.
"""
