"""Launch-time adjustments shared by ``tools/train.py`` and ``tools/test.py``."""
import datetime
import os
from typing import Optional

import torch
from mmengine.config import Config


def _init_cpu_process_group(cfg: Config) -> None:
    """Start the (gloo) process group of a ``torchrun`` launch on a machine
    without CUDA.

    MMEngine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
    unconditionally, which fails without an NVIDIA driver. The runner only
    calls ``init_dist`` when no process group exists yet, so creating it
    here (from the ``RANK``/``WORLD_SIZE``/``MASTER_*`` variables that
    ``torchrun`` sets) lets a CPU launch go through the normal runner path.
    """
    import torch.distributed as dist
    if not dist.is_available() or dist.is_initialized():
        return
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        return  # not started by torchrun: let MMEngine report the problem
    kwargs = dict(cfg.env_cfg.get('dist_cfg', {}))
    backend = kwargs.pop('backend', 'gloo')
    timeout = kwargs.pop('timeout', None)
    if timeout is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    dist.init_process_group(
        backend=backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


_DDP_TYPES = ('MMDistributedDataParallel', 'DistributedDataParallel')


def _cpu_ddp_wrapper(cfg: Config) -> None:
    """Wrap the model in DDP without ``device_ids`` (CPU modules).

    Without a ``model_wrapper_cfg`` MMEngine passes
    ``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU module.
    """
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper.get('type', 'MMDistributedDataParallel') in _DDP_TYPES:
        wrapper.setdefault('device_ids', None)


def load_config(path: str,
                launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """Read a config the way MMSeg's tools do: ``--cfg-options`` merged,
    ``work_dir`` from the command line, else the config, else
    ``./work_dirs/<config name>``."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = os.path.join(
            './work_dirs', os.path.splitext(os.path.basename(path))[0])
    return cfg


def prepare_launch(cfg: Config) -> Config:
    """Make a config runnable on the current machine.

    * A distributed launch on a machine without CUDA switches the process
      group backend to gloo (NCCL needs GPUs), wraps the model in DDP
      without ``device_ids`` and, for the ``pytorch`` launcher
      (``torchrun``), creates the process group itself, because MMEngine's
      ``init_dist`` would call ``torch.cuda.set_device``.
    * The checkpoint of ``load_from`` must exist: fail before building the
      runner, naming the file.
    """
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from and not os.path.isfile(
            load_from):
        raise FileNotFoundError(f'checkpoint not found: {load_from}')
    launcher = cfg.get('launcher', 'none')
    if launcher != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
        _cpu_ddp_wrapper(cfg)
        if launcher == 'pytorch':
            _init_cpu_process_group(cfg)
    return cfg


def finish_launch() -> None:
    """Shut a distributed run down cleanly.

    MMEngine leaves the process group alive at exit. With gloo on the CPU
    the interpreter's teardown can then destroy the group's threads while
    they still run (``terminate called without an active exception``,
    SIGABRT in one rank after a run that finished). Wait for every rank,
    then destroy the group.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
