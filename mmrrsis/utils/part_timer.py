"""Wall time per part of a referring segmentor (``benchmark.py --profile``).

:class:`PartTimer` attributes the time of a forward pass to the part that is
running: the segmentor's top-level children (``data_preprocessor``,
``text_encoder``, ``backbone``, ``fusions``, ``neck``, ``decode_head``,
``auxiliary_head``) and ``loss`` (the heads' loss modules and
``loss_by_feat``: the logits resized to the label and the loss terms).
Time is *exclusive*: forward pre/post hooks on every module keep a stack of
active parts, and the time between two transitions goes to the part on top
of the stack, so a fusion block run inside a backbone stage (early fusion:
LAVT, FIANet, BTDNet) counts as ``fusions`` and not also as ``backbone``
(``backbone`` is the backbone without its fusion blocks). Time with no part
active (the segmentor's glue: ``parse_losses``, post-processing) is
``other``. On a GPU every transition synchronises the device, so a kernel
is charged to the part that launched it (the synchronisations slow the
profiled step a little; the plain step time is measured without them).

Phases timed as a whole (``backward``, ``optimizer_step``) are measured by
the caller with :meth:`PartTimer.phase`.
"""
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import torch
from torch import nn

#: Methods (not ``forward``) through which the segmentor runs its parts.
_HEAD_METHODS = ('loss', 'predict')
_LOSS_METHODS = ('loss_by_feat', )
_FUSION_METHODS = ('fuse', )


def _is_loss_module(name: str, module: nn.Module) -> bool:
    return (type(module).__name__.endswith('Loss')
            or any(p.startswith('loss_') for p in name.split('.')))


class PartTimer:
    """Exclusive wall time per part of ``model`` while :meth:`track` is on.

    Args:
        model (nn.Module): A segmentor; each top-level child is a part and
            every module under it (called directly or, for an early-fusion
            backbone, stage by stage) is charged to it.
        device (str): ``'cuda...'`` synchronises at every transition.

    Example::

        timer = PartTimer(model, 'cpu')
        with timer.track():
            model.test_step(batch)
        timer.seconds  # OrderedDict(part -> seconds)
    """

    def __init__(self, model: nn.Module, device: str = 'cpu') -> None:
        self.model = getattr(model, 'module', model)
        self.cuda = str(device).startswith('cuda')
        self.seconds: 'OrderedDict[str, float]' = OrderedDict()
        self._stack: List[str] = []
        self._last = 0.0
        self._active = False

    # ------------------------------------------------------------ clock
    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _charge(self) -> None:
        now = self._now()
        part = self._stack[-1] if self._stack else 'other'
        self.seconds[part] = self.seconds.get(part, 0.0) + now - self._last
        self._last = now

    def _enter(self, part: str) -> None:
        if not self._active:
            return
        if not self._stack or self._stack[-1] != part:
            self._charge()
        self._stack.append(part)

    def _exit(self, part: str) -> None:
        if not self._active or not self._stack:
            return
        if len(self._stack) == 1 or self._stack[-2] != part:
            self._charge()
        self._stack.pop()

    # ------------------------------------------------------------ parts
    def part_of_modules(self) -> Dict[nn.Module, str]:
        """Every module under the segmentor -> its part name."""
        parts: Dict[nn.Module, str] = {}
        for child_name, child in self.model.named_children():
            for name, module in child.named_modules(prefix=child_name):
                if _is_loss_module(name, module):
                    parts[module] = 'loss'
                elif module not in parts:
                    parts[module] = child_name
        return parts

    @contextmanager
    def track(self) -> Iterator['PartTimer']:
        """Charge the time spent inside the block to the parts (adds to
        :attr:`seconds`; ``other``: no part active)."""
        handles, patched = [], []
        for module, part in self.part_of_modules().items():
            handles.append(module.register_forward_pre_hook(
                lambda *_, p=part: self._enter(p)))
            handles.append(module.register_forward_hook(
                lambda *_, p=part: self._exit(p)))
            if hasattr(module, 'loss_by_feat'):  # a decode head
                patched += [self._wrap(module, m, part)
                            for m in _HEAD_METHODS]
                patched += [self._wrap(module, m, 'loss')
                            for m in _LOSS_METHODS]
            elif part == 'fusions':
                patched += [self._wrap(module, m, part)
                            for m in _FUSION_METHODS]
        self._stack = []
        self._active = True
        self._last = self._now()
        try:
            yield self
        finally:
            self._charge()
            self._active = False
            self._stack = []
            for h in handles:
                h.remove()
            for module, method in patched:
                if module is not None:
                    delattr(module, method)

    def _wrap(self, module: nn.Module, method: str, part: str):
        fn = getattr(module, method, None)
        if fn is None or method in vars(module):
            return None, method

        def wrapped(*args, **kwargs):
            self._enter(part)
            try:
                return fn(*args, **kwargs)
            finally:
                self._exit(part)

        setattr(module, method, wrapped)
        return module, method

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Charge the whole block to ``name`` (``backward``, ...)."""
        start = self._now()
        try:
            yield
        finally:
            self.seconds[name] = (self.seconds.get(name, 0.0)
                                  + self._now() - start)

    def reset(self) -> None:
        self.seconds = OrderedDict()


def profile_table(seconds: Dict[str, float], iters: int,
                  title: str, plain_s: Optional[float] = None) -> List[str]:
    """Lines of a per-part table: seconds per iteration and share of the
    profiled total (and the plain, unhooked time when given)."""
    total = sum(seconds.values())
    n = max(1, iters)
    width = max([len(k) for k in seconds] + [len('total')])
    lines = [title, f'  {"part":<{width}}  {"s/iter":>9}  {"share":>6}']
    for part, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        lines.append(f'  {part:<{width}}  {s / n:>9.4f}  '
                     f'{s / max(total, 1e-12):>6.1%}')
    lines.append(f'  {"total":<{width}}  {total / n:>9.4f}  {1:>6.1%}')
    if plain_s is not None:
        lines.append(f'  (without the hooks: {plain_s:.4f} s/iter)')
    return lines
