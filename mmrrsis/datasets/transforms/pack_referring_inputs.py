"""Pack a referring sample; the expression travels in the metainfo."""
from typing import Sequence

from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

#: ``PackSegInputs``' default meta keys (MMSeg 1.2.2).
SEG_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                 'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                 'reduce_zero_label')
#: Keys that identify a referring sample (``category``: the object's class,
#: for per-category evaluation; absent or None when unknown).
REFERRING_META_KEYS = ('text', 'ref_id', 'sent_id', 'img_id', 'sample_idx',
                       'category')
#: Default meta keys of :class:`PackReferringInputs`.
DEFAULT_META_KEYS = SEG_META_KEYS + REFERRING_META_KEYS


@TRANSFORMS.register_module()
class PackReferringInputs(PackSegInputs):
    """``PackSegInputs`` whose metainfo also carries the expression.

    Produces ``inputs`` (uint8 tensor (3, H, W)) and ``data_samples``
    (``SegDataSample`` with ``gt_sem_seg`` of shape (1, H, W), int64 values
    {0, 1}); ``data_samples.metainfo['text']`` holds the expression, next to
    ``ref_id``, ``sent_id``, ``img_id``, ``sample_idx`` and ``category``.
    Keys missing from ``results`` are skipped, as in ``PackSegInputs``.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults to
            ``PackSegInputs``' defaults + ('text', 'ref_id', 'sent_id',
            'img_id', 'sample_idx', 'category').
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))
