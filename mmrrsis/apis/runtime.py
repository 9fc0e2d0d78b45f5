"""Launch-time adjustments shared by tools/train.py and tools/test.py."""
import datetime
import os
from typing import List, Optional

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


_SPLIT_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _leaf_datasets(dataset) -> List[dict]:
    """The dataset dicts of a dataloader's ``dataset``, through wrappers
    (``dataset=`` of RepeatDataset and the like, ``datasets=`` of
    ConcatDataset)."""
    if not isinstance(dataset, dict):
        return []
    if 'datasets' in dataset:
        return [d for sub in dataset['datasets'] for d in _leaf_datasets(sub)]
    if 'dataset' in dataset:
        return _leaf_datasets(dataset['dataset'])
    return [dataset]


def set_data_root(cfg: Config,
                  data_root: str,
                  only_if: Optional[str] = None) -> List[str]:
    """Point every split of a config at ``data_root``.

    A config's top-level ``data_root`` is a plain variable: its dataloaders
    copied the value when the file was read, so changing ``cfg.data_root``
    afterwards (``--cfg-options data_root=...``) reaches no dataset. This
    sets ``cfg.data_root`` and the ``data_root`` of every dataset of
    ``train_dataloader``, ``val_dataloader`` and ``test_dataloader``
    (through dataset wrappers).

    Args:
        cfg (Config): The config, changed in place.
        data_root (str): The folder holding the dataset.
        only_if (str, optional): Change only the datasets whose
            ``data_root`` is this value (the config's own data root), so
            that a split pointed elsewhere on purpose stays there.

    Returns:
        list[str]: The dataloaders changed.
    """
    cfg.data_root = data_root
    changed = []
    for key in _SPLIT_LOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        hit = False
        for dataset in _leaf_datasets(loader.get('dataset')):
            if only_if is not None and dataset.get('data_root') != only_if:
                continue
            dataset['data_root'] = data_root
            hit = True
        if hit:
            changed.append(key)
    return changed


def load_config(path: str,
                launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                data_root: Optional[str] = None) -> Config:
    """Read a config the way MMSeg's tools do: ``--cfg-options`` merged,
    ``work_dir`` from the command line, else the config, else
    ``./work_dirs/<config name>``.

    Data location: ``data_root`` (``--data-root``) points every split at
    that folder (:func:`set_data_root`). ``--cfg-options data_root=DIR``
    does the same for the splits that used the config's own data root
    (MMSeg's tools change only the variable, which no dataset reads any
    more). Per-split keys (``test_dataloader.dataset.data_root=...``) still
    win over the latter.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    config_root = cfg.get('data_root')
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
        if 'data_root' in cfg_options and data_root is None:
            set_data_root(cfg, cfg_options['data_root'], only_if=config_root)
    if data_root is not None:
        set_data_root(cfg, data_root)
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
    * The checkpoint of ``load_from`` must exist and be a checkpoint:
      fail before building the runner, naming the file and, for a file
      that is no checkpoint (an image, a config, a cut-off save), what it
      is (:class:`~mmrrsis.utils.compat.CheckpointFileError`).
    """
    from mmrrsis.utils.compat import checkpoint_file_kind
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from:
        if not os.path.isfile(load_from):
            raise FileNotFoundError(f'checkpoint not found: {load_from}')
        checkpoint_file_kind(load_from)
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
