#!/usr/bin/env bash
# Install what is missing, then run the CPU demo (synthetic data -> train ->
# evaluate -> shuffled-sentence control -> pictures in work_dirs/demo/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
# shellcheck disable=SC1091
. "${MMRRSIS_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python demo/synthetic_demo.py "$@"
