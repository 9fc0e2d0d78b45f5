"""A tiny MMEngine runner (toy model, toy metric) for the checkpoint hook
tests; imported by the tests and by their subprocess scripts."""
import itertools

import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel

_names = itertools.count()


class ToyModel(BaseModel):
    """``y = fc(x)`` plus an untrained ``blob`` buffer of ``big`` floats
    that makes the checkpoint as large as wanted."""

    def __init__(self, big: int = 0) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.register_buffer('blob', torch.zeros(big))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return list(out)


class RisingMetric(BaseMetric):
    """``acc`` = ``start``, ``start + 1``, ...: every evaluation is a new
    best, so the checkpoint hook replaces its best checkpoint each time."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._next = start

    def process(self, data_batch, data_samples) -> None:
        self.results.append(len(data_samples))

    def compute_metrics(self, results) -> dict:
        self._next += 1
        return dict(acc=float(self._next))


def build_toy_runner(work_dir: str,
                     max_iters: int,
                     resume: bool = False,
                     big: int = 0,
                     val_interval: int = 0,
                     acc_start: float = 0.0,
                     **hook_kwargs):
    """A runner in the ``mmseg`` scope with mmrrsis' SafeCheckpointHook,
    saving every iteration.

    Args:
        work_dir (str): The work dir.
        max_iters (int): Training iterations.
        resume (bool): ``resume=True`` without ``load_from``.
        big (int): Floats in the model's ``blob`` buffer.
        val_interval (int): Validate every N iterations (0: never).
        acc_start (float): The first ``acc`` minus one.
        **hook_kwargs: More ``CheckpointHook`` arguments.
    """
    from mmengine.runner import Runner

    import mmrrsis  # noqa: F401  (registers the hooks)
    data = [dict(inputs=torch.randn(2)) for _ in range(4)]
    loader = dict(dataset=data,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  batch_size=2, collate_fn=dict(type='default_collate'))
    val = {}
    if val_interval:
        val = dict(val_dataloader=loader, val_cfg=dict(),
                   val_evaluator=Evaluator([RisingMetric(acc_start)]))
    return Runner(
        model=ToyModel(big),
        work_dir=str(work_dir),
        experiment_name=f'toy_{next(_names)}_{id(data)}',
        train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters,
                       val_interval=val_interval or max_iters + 1),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='SafeCheckpointHook', interval=1,
                            by_epoch=False, **hook_kwargs)),
        resume=resume,
        default_scope='mmseg',
        **val)
