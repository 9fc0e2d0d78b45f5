"""Test-time augmentation for referring segmentors (flips that keep the
sentence true)."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import SampleList
from torch import Tensor

from mmrrsis.datasets.transforms.text_aware_random_flip import \
    swap_direction_words

_FLIP_DIMS = dict(horizontal=(2, ), vertical=(1, ), diagonal=(1, 2))


def unflip(logit: Tensor, meta: dict) -> Tensor:
    """Undo the flip a view's metainfo records on a (C, H, W) map.

    Args:
        logit (Tensor): (C, H, W) map of the flipped view.
        meta (dict): The view's metainfo (``flip``, ``flip_direction``).

    Returns:
        Tensor: (C, H, W) map in the orientation of the original image.
    """
    if not meta.get('flip', False):
        return logit
    direction = meta.get('flip_direction')
    if direction not in _FLIP_DIMS:
        raise ValueError(f'cannot undo a flip of direction {direction!r}')
    return logit.flip(dims=_FLIP_DIMS[direction])


def _prob(logit: Tensor) -> Tensor:
    """Softmax over C > 1 channels, sigmoid for one channel."""
    return logit.softmax(dim=0) if logit.shape[0] > 1 else logit.sigmoid()


@MODELS.register_module()
class ReferringTTAModel(BaseTTAModel):
    """Merge the views of a test-time augmentation of a referring sample.

    MMSeg's ``SegTTAModel`` with MMSeg's ``RandomFlip`` shows the model a
    mirrored image with the *same* sentence, so "the tank on the left"
    points at the wrong tank in the flipped view. Used with a
    ``TestTimeAug`` of :class:`~mmrrsis.datasets.transforms.
    TextAwareRandomFlip` (``prob=0`` and ``prob=1``), each view carries its
    own sentence in ``metainfo['text']`` (left <-> right in a horizontal
    view), the model reads that sentence, and this class flips each view's
    logits back and averages the probabilities (softmax, or sigmoid for one
    output channel), as ``SegTTAModel`` does.

    For every sample the merged :class:`SegDataSample` holds:

    - ``seg_logits``: mean probabilities at the original size,
      (C, H_ori, W_ori) (MMSeg: resize to ``ori_shape``, then softmax);
    - ``pred_sem_seg``: (1, H_ori, W_ori) argmax (or threshold) of them;
    - ``pred_sem_seg_input``: (1, H_in, W_in) prediction from the mean
      probabilities at the network input size (``img_shape`` of the
      reference view; what ``RefSegMetric(eval_resolution='input')`` reads);
    - the metainfo and ``gt_sem_seg`` of the reference view, the first view
      without a flip (so ``text`` is the sentence as written); when every
      view is flipped, the first one with its flip undone (ground truth
      flipped back, direction words swapped back).

    One merged sample per dataset sample, so the evaluator counts each
    expression once.

    Views (``BaseTTAModel``): the dataloader yields ``inputs`` and
    ``data_samples`` as lists over views of lists over the batch; each view
    is preprocessed by the wrapped model's ``data_preprocessor`` and run
    through its ``inference`` (whole or slide, per ``test_cfg``).

    Refs: LAVT (Yang et al., CVPR 2022) and its remote-sensing successors
    (RMSIN, FIANet, CroBIM) test without augmentation; this wrapper is an
    option, selected by ``tools/test.py --tta``.

    Args:
        module (dict | nn.Module): The referring segmentor.
        data_preprocessor (dict, optional): As in ``BaseTTAModel``.
    """

    def __init__(self, module, data_preprocessor: Optional[dict] = None
                 ) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)

    # ------------------------------------------------------------ views
    def _view_logits(self, logits: Tensor, samples: SampleList) -> SampleList:
        """Attach ``seg_logits`` (original size) and ``seg_logits_input``
        (input size), both raw logits in the original orientation."""
        H, W = logits.shape[-2:]
        align = bool(getattr(self.module, 'align_corners', False))
        for i, sample in enumerate(samples):
            meta = sample.metainfo
            pad = meta.get('img_padding_size',
                           meta.get('padding_size', [0] * 4))
            left, right, top, bottom = pad
            logit = logits[i, :, top:H - bottom, left:W - right]
            img_shape = meta.get('img_shape')
            if img_shape is not None:
                logit = logit[:, :img_shape[0], :img_shape[1]]
            logit = unflip(logit, meta)
            ori = meta.get('ori_shape', logit.shape[-2:])
            ori_logit = logit if tuple(ori[:2]) == tuple(
                logit.shape[-2:]) else F.interpolate(
                    logit[None], size=tuple(ori[:2]), mode='bilinear',
                    align_corners=align)[0]
            sample.set_data(dict(seg_logits=PixelData(data=ori_logit),
                                 seg_logits_input=PixelData(data=logit)))
        return samples

    def predict_view(self, data: dict) -> SampleList:
        """Run one view of a batch: ``data`` holds ``inputs`` and
        ``data_samples`` (lists over the batch) as a test dataloader gives
        them without augmentation.

        Returns:
            list[SegDataSample]: The view's samples with ``seg_logits``
            ((C, H_ori, W_ori)) and ``seg_logits_input`` ((C, H_in, W_in))
            raw logits, flipped back.
        """
        data = self.module.data_preprocessor(data, False)
        samples = data['data_samples']
        metas = [s.metainfo for s in samples]
        logits = self.module.inference(data['inputs'], metas)
        return self._view_logits(logits, samples)

    def test_step(self, data) -> SampleList:
        """Split ``data`` into views, run each, merge per sample."""
        if isinstance(data, dict):
            num_views = len(data[next(iter(data))])
            views = [{k: v[i] for k, v in data.items()}
                     for i in range(num_views)]
        else:
            raise TypeError('ReferringTTAModel expects the dict a '
                            'TestTimeAug pipeline collates to, got '
                            f'{type(data)}')
        per_view = [self.predict_view(v) for v in views]
        return self.merge_preds([list(s) for s in zip(*per_view)])

    # ------------------------------------------------------------ merge
    @staticmethod
    def _reference(views: Sequence[SegDataSample]) -> SegDataSample:
        """The metainfo and ground truth the merged sample reports."""
        for view in views:
            if not view.metainfo.get('flip', False):
                return view
        view = views[0]
        meta = dict(view.metainfo)
        direction = meta.get('flip_direction')
        ref = SegDataSample(metainfo=meta)
        if isinstance(meta.get('text'), str):
            meta['text'] = swap_direction_words(
                meta['text'],
                horizontal=direction in ('horizontal', 'diagonal'),
                vertical=direction in ('vertical', 'diagonal'))
        meta.update(flip=False, flip_direction=None)
        ref.set_metainfo(meta)
        if 'gt_sem_seg' in view:
            ref.gt_sem_seg = PixelData(
                data=unflip(view.gt_sem_seg.data, view.metainfo))
        return ref

    def _threshold(self) -> float:
        head = getattr(self.module, 'decode_head', None)
        threshold = getattr(head, 'threshold', None)
        return 0.5 if threshold is None else float(threshold)

    def _decide(self, prob: Tensor) -> Tensor:
        if prob.shape[0] > 1:
            return prob.argmax(dim=0, keepdim=True)
        return (prob > self._threshold()).to(torch.long)

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Average the views of each sample.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per sample, its
                views, each with raw ``seg_logits`` (C, H_ori, W_ori) and
                ``seg_logits_input`` (C, H_in, W_in) in the original
                orientation (:meth:`predict_view`).

        Returns:
            list[SegDataSample]: One merged sample per sample (see the class
            docstring).
        """
        merged = []
        for views in data_samples_list:
            ref = self._reference(views)
            out = SegDataSample(metainfo=dict(ref.metainfo))
            if 'gt_sem_seg' in ref:
                out.gt_sem_seg = ref.gt_sem_seg
            prob = torch.stack([_prob(v.seg_logits.data)
                                for v in views]).mean(dim=0)
            in_shape = tuple(views[0].seg_logits_input.data.shape[-2:])
            ref_in = ref.metainfo.get('img_shape')
            if ref_in is not None:
                in_shape = tuple(ref_in[:2])
            probs_in = []
            for v in views:
                p = _prob(v.seg_logits_input.data)
                if tuple(p.shape[-2:]) != in_shape:
                    p = F.interpolate(p[None], size=in_shape,
                                      mode='bilinear', align_corners=False)[0]
                probs_in.append(p)
            prob_in = torch.stack(probs_in).mean(dim=0)
            out.seg_logits = PixelData(data=prob)
            out.pred_sem_seg = PixelData(data=self._decide(prob))
            out.set_data(dict(pred_sem_seg_input=PixelData(
                data=self._decide(prob_in))))
            merged.append(out)
        return merged
