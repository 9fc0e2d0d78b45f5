#!/usr/bin/env bash
# Lint as CI does: flake8 and isort --check on the code folders (settings in
# setup.cfg). Run from anywhere, inside the project venv (tools/setup_env.sh
# installs flake8 and isort from requirements/tests.txt).
#   bash tools/lint.sh            check
#   bash tools/lint.sh --fix      sort the imports in place, then check
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIRS=(mmrrsis tools tests demo projects configs)
if [ "${1:-}" = "--fix" ]; then
  python -m isort "${DIRS[@]}"
fi
echo "[lint] flake8 ${DIRS[*]}"
python -m flake8 "${DIRS[@]}"
echo "[lint] isort --check-only ${DIRS[*]}"
python -m isort --check-only --diff "${DIRS[@]}"
echo "[lint] clean"
