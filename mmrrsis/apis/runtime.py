"""Launch-time adjustments shared by ``tools/train.py`` and ``tools/test.py``."""
import os

import torch
from mmengine.config import Config


def prepare_launch(cfg: Config) -> Config:
    """Make a config runnable on the current machine.

    * A distributed launch on a machine without CUDA switches the process
      group backend to gloo (NCCL needs GPUs).
    * The checkpoint of ``load_from`` must exist: fail before building the
      runner, naming the file.
    """
    if cfg.get('launcher', 'none') != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not os.path.isfile(
            load_from):
        raise FileNotFoundError(f'checkpoint not found: {load_from}')
    return cfg
