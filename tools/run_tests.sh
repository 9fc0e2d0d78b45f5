#!/usr/bin/env bash
# Install what is missing, lint (tools/lint.sh: flake8 + isort), then run the
# whole test suite, tests/ and the projects' tests (this is what CI runs).
# Both steps always run; either failing fails the script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
# shellcheck disable=SC1091
. "${MMRRSIS_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
lint_status=0
bash tools/lint.sh || lint_status=$?
# projects/: every project carries its own tests (projects/README.md)
test_status=0
python -m pytest tests projects -q "$@" || test_status=$?
if [ "$lint_status" -ne 0 ]; then
  echo "[run_tests] lint failed (flake8 / isort output above);" \
       "bash tools/lint.sh --fix sorts imports"
fi
if [ "$test_status" -ne 0 ]; then
  exit "$test_status"
fi
exit "$lint_status"
