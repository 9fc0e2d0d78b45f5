"""What a language-aware backbone offers the referring segmentor."""
from typing import Callable, List, Tuple

from torch import Tensor

#: ``fuse(stage_index, x [B, C, H, W]) -> (stream, out)``, both
#: [B, C, H, W]: ``stream`` continues through the backbone, ``out`` is the
#: stage's output (normed by the backbone where it norms its outputs).
FuseFn = Callable[[int, Tensor], Tuple[Tensor, Tensor]]


def tokens_to_map(x: Tensor, hw: Tuple[int, int]) -> Tensor:
    """[B, N, C] tokens -> [B, C, H, W]."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *hw)


class BaseLanguageAwareBackbone:
    """Mixin of the backbones that take a language block inside every stage
    (early fusion: LAVT, FIANet, BTDNet, CroBIM's with-PWAM ablation).

    A language-aware backbone is a *subclass* of an MMSeg / MMPretrain
    backbone: its parameters, names (checkpoint keys ``backbone.stages...``),
    pretrained loading and plain ``forward(img)`` are its parent's.
    It adds :meth:`forward_with_fusion`, the same forward with
    ``fuse(i, x)`` called where stage ``i`` ends; the segmentor passes a
    ``fuse`` that runs its fusion block ``i`` with the sentence. With
    ``fuse = lambda i, x: (x, x)`` the outputs equal ``forward(img)``.

    To make another backbone language-aware, subclass it with this mixin and
    write :meth:`forward_with_fusion` from its ``forward`` (see
    :class:`~mmrrsis.models.backbones.LanguageAwareResNet`, 20 lines).
    """

    def forward_with_fusion(self, img: Tensor, fuse: FuseFn) -> List[Tensor]:
        """``img`` [B, 3, H, W] -> the backbone's multi-scale outputs, with
        ``fuse`` called inside every stage."""
        raise NotImplementedError
