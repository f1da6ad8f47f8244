#!/usr/bin/env bash
# Build the two peer environments the comparison benchmarks run their other arms in, from the
# pinned requirement files in the repository:
#
#   bash benchmarks/make_envs.sh [DIR]
#
#   DIR/refvenv   transformers 5 + torch (CPU) + sentence-transformers, from
#                 tests/reference/requirements.txt (the reference environment the tests use)
#   DIR/tutvenv   the tutorial's stack: TensorFlow 2.21 + tf-keras + transformers 4.57, from
#                 benchmarks/envs/tutorial.txt
#
# Without DIR: $BERTCLS_REFVENV and $BERTCLS_TUTVENV, else .refvenv and .tutvenv in the
# repository root (git-ignored). With DIR, export the two variables it prints so that the
# benchmark scripts (benchmarks/common.py) and the tests find the environments there.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -ge 1 ]; then
  ref="$1/refvenv"; tut="$1/tutvenv"
else
  ref="${BERTCLS_REFVENV:-$repo/.refvenv}"; tut="${BERTCLS_TUTVENV:-$repo/.tutvenv}"
fi
bash "$repo/tests/reference/make_env.sh" "$ref"
touch "$ref/.ready"
python3 -m venv "$tut"
"$tut/bin/python" -m pip install -q --upgrade pip
"$tut/bin/python" -m pip install -q --no-deps -r "$repo/benchmarks/envs/tutorial.txt"
TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 "$tut/bin/python" -c \
  "import tensorflow, tf_keras, transformers; print('tutorial env ready:', '$tut', 'tensorflow', tensorflow.__version__, 'transformers', transformers.__version__)"
touch "$tut/.ready"
echo "export BERTCLS_REFVENV=$ref BERTCLS_TUTVENV=$tut"
