"""Which split model selection runs on (select on val, report on test)."""
import copy
import logging

from mmengine.config import Config
from mmengine.logging import print_log

#: Splits :func:`select_on` accepts.
SELECTION_SPLITS = ('val', 'test')


def select_on(cfg: Config, split: str = 'val') -> Config:
    """Set the split the validation loop, and so model selection, runs on.

    The protocol of mmrrsis' configs: the validation loop scores the val
    split, ``CheckpointHook(save_best='oIoU')`` keeps the best val
    checkpoint, and the final numbers come from ``tools/test.py`` on the
    test split, which was never used to choose anything.

    ``split='test'`` reproduces what FIANet's official training code does
    (it evaluates the test split after every epoch and keeps the checkpoint
    with the best *test* oIoU), for users who must match such a table: the
    validation loop then runs on a copy of ``test_dataloader.dataset`` and
    ``test_evaluator``. Numbers selected that way are optimistic (the test
    split chose the checkpoint); a warning says so and ``cfg.selection_split``
    records the choice in the dumped config.

    Args:
        cfg (Config): A full training config (``val_dataloader``,
            ``val_evaluator``, ``test_dataloader``, ``test_evaluator``).
        split (str): ``'val'`` (leave the config as it is) or ``'test'``.
            Defaults to ``'val'``.

    Returns:
        Config: ``cfg``, changed in place.

    Raises:
        ValueError: Unknown ``split``, or ``'test'`` with a config that has
            no validation loop or no test dataloader / evaluator.
    """
    if split not in SELECTION_SPLITS:
        raise ValueError(f'select_on: split must be one of '
                         f'{SELECTION_SPLITS}, got {split!r}')
    if split == 'val':
        return cfg
    missing = [
        k for k in ('val_dataloader', 'val_evaluator', 'val_cfg',
                    'test_dataloader', 'test_evaluator') if not cfg.get(k)
    ]
    if missing:
        raise ValueError(f"select_on('test') needs {missing} in the config")
    cfg.val_dataloader.dataset = copy.deepcopy(cfg.test_dataloader.dataset)
    cfg.val_evaluator = copy.deepcopy(cfg.test_evaluator)
    cfg.selection_split = 'test'
    print_log(
        'Model selection on the TEST split (--select-on test): the '
        'validation loop and save_best now score test_dataloader.dataset, '
        "as FIANet's official code does. Test numbers of the kept "
        'checkpoint are optimistic; the default protocol selects on val.',
        logger='current', level=logging.WARNING)
    return cfg
