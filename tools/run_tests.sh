#!/usr/bin/env bash
# Install what is missing, then run the whole test suite, tests/ and the
# projects' tests (this is what CI runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
# shellcheck disable=SC1091
. "${MMRRSIS_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# projects/: every project carries its own tests (projects/README.md)
python -m pytest tests projects -q "$@"
