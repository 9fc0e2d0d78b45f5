#!/usr/bin/env bash
# Install what is missing, then run the whole test suite (this is what CI runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
# shellcheck disable=SC1091
. "${MMRRSIS_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python -m pytest tests -q "$@"
