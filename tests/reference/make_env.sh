#!/usr/bin/env bash
# Build the reference environment (torch CPU + transformers + sentence-transformers) that the
# cross-framework tests and tests/golden/*/make_*.py run in, from the pinned
# tests/reference/requirements.txt.
#
#   bash tests/reference/make_env.sh [DIR]
#
# DIR defaults to $BERTCLS_REFVENV, else .refvenv in the repository root (git-ignored).
# The tests find it the same way (tests/conftest.py: REFVENV_PYTHON); without it they skip,
# naming this command. About 1 GB on disk; a few minutes on a fresh machine.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-${BERTCLS_REFVENV:-$repo/.refvenv}}"
python3 -m venv "$dir"
"$dir/bin/python" -m pip install -q --upgrade pip
"$dir/bin/python" -m pip install -q --no-deps -r "$repo/tests/reference/requirements.txt"
"$dir/bin/python" -c "import torch, transformers, sentence_transformers; print('reference env ready:', '$dir', 'torch', torch.__version__, 'transformers', transformers.__version__)"
