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
# the tool tests write ~4 GB of checkpoints under pytest's temp dir
tmp_root="${TMPDIR:-/tmp}"
free_kb=$(df -Pk "$tmp_root" | awk 'NR==2 {print $4}')
echo "[run_tests] free space under $tmp_root: $((free_kb / 1024 / 1024)) GiB"
if [ "$free_kb" -lt $((6 * 1024 * 1024)) ]; then
  echo "[run_tests] WARNING: under 6 GiB free under $tmp_root; the tool" \
       "tests write ~4 GB of checkpoints and may fail with 'No space left" \
       "on device'. Free space or point TMPDIR elsewhere."
fi
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
