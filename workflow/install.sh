#!/usr/bin/env bash
# Create .venv with the exact pinned stack (idempotent). torch goes first and alone: a loose
# torch requirement would pull a multi-GB CUDA build; 2.13.0 resolves to the CPU wheel here.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    raise SystemExit(f"sinkprune needs Python >= 3.11, found {sys.version.split()[0]}")
PY
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet torch==2.13.0
# The rest through uv (resolves and installs the same pins in seconds rather than a minute); pip
# when uv cannot be installed. torch 2.13.0 is already there, so neither touches it.
if .venv/bin/python -m pip install --quiet uv; then
    .venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e ".[test]"
else
    .venv/bin/python -m pip install --quiet -e ".[test]"
fi
.venv/bin/python -c "import torch, transformers, lm_eval, snakemake; print('sinkprune env ready: torch', torch.__version__, '| transformers', transformers.__version__, '| lm-eval', lm_eval.__version__)"
