#!/usr/bin/env bash
# Create (or reuse) the project virtual environment and install what is missing.
# Idempotent: a second run on the same machine takes seconds.
#   PYTHON=python3.11   interpreter used to create the venv
#   MMRRSIS_VENV=.venv  where the venv lives
#   TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"  torch build to install first
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${MMRRSIS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

if ! python -c "import torch, torchvision.ops" >/dev/null 2>&1; then
  echo "[setup] installing ${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1} (a few minutes)"
  # shellcheck disable=SC2086
  pip install -q ${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}
fi

STAMP="$VENV/.mmrrsis-req-stamp"
WANT="$(cat requirements.txt requirements/*.txt setup.py | sha1sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ] || ! python -c "import mmrrsis" >/dev/null 2>&1; then
  echo "[setup] installing requirements"
  pip install -q -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  pip install -q --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
  python -c "import mmrrsis" 
  echo "$WANT" > "$STAMP"
fi

# The web demo's browser test drives headless Chromium: Debian packages
# (chromium, chromium-driver), installed when missing and we are root.
have_browser() {
  command -v chromedriver >/dev/null 2>&1 && {
    command -v chromium >/dev/null 2>&1 ||
      command -v chromium-browser >/dev/null 2>&1 ||
      command -v google-chrome >/dev/null 2>&1; }
}
if ! have_browser; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing chromium + chromium-driver (apt-get; the web demo's browser test)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             chromium chromium-driver >/dev/null 2>&1; }; then
      echo "[setup] warning: apt-get could not install chromium chromium-driver;" \
           "the browser test (tests/test_apis/test_web_demo.py) will fail"
    fi
  else
    echo "[setup] note: chromium/chromedriver not found and not root (or no apt-get):" \
         "the web demo's browser test is skipped; install them with" \
         "'sudo apt-get install chromium chromium-driver'"
  fi
fi
echo "[setup] ready: $(python -c 'import mmrrsis.utils as u; print(u.collect_env_info())')"
