"""Referring segmentation metric: oIoU, mIoU and Prec@X over expressions,
overall, by object size and by category."""
import json
import logging
import os
import os.path as osp
from collections import Counter, OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from PIL import Image
from prettytable import PrettyTable

ArrayLike = Union[np.ndarray, torch.Tensor]


def _to_numpy_2d(mask: ArrayLike) -> np.ndarray:
    """Turn a ``[1, H, W]`` / ``[H, W]`` tensor or array into an HxW array.

    Args:
        mask (np.ndarray | torch.Tensor): The label map.

    Returns:
        np.ndarray: The label map with shape ``(H, W)``.
    """
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(
            f'Expected a label map of shape (1, H, W) or (H, W), got '
            f'{tuple(mask.shape)}.')
    return mask


def intersection_and_union(pred: ArrayLike,
                           gt: ArrayLike,
                           foreground: int = 1,
                           ignore_index: Optional[int] = 255
                           ) -> Tuple[int, int]:
    """Count foreground intersection and union pixels of one expression.

    Pixels whose ground-truth label equals ``ignore_index`` are excluded
    from both counts.

    Args:
        pred (np.ndarray | torch.Tensor): Predicted label map, ``(H, W)`` or
            ``(1, H, W)``.
        gt (np.ndarray | torch.Tensor): Ground-truth label map of the same
            spatial size.
        foreground (int): Label of the referred object. Defaults to 1.
        ignore_index (int, optional): Ground-truth label to ignore.
            Defaults to 255.

    Returns:
        tuple[int, int]: ``(intersection, union)`` pixel counts.
    """
    pred = _to_numpy_2d(pred)
    gt = _to_numpy_2d(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'Prediction shape {pred.shape} differs from the '
                         f'ground-truth shape {gt.shape}.')
    pred_fg = pred == foreground
    gt_fg = gt == foreground
    if ignore_index is not None:
        valid = gt != ignore_index
        pred_fg = pred_fg & valid
        gt_fg = gt_fg & valid
    inter = int(np.count_nonzero(pred_fg & gt_fg))
    union = int(np.count_nonzero(pred_fg | gt_fg))
    return inter, union


def resize_label_nearest(label: ArrayLike,
                         size: Sequence[int],
                         backend: str = 'pil') -> np.ndarray:
    """Resize a label map with nearest-neighbour interpolation.

    Args:
        label (np.ndarray | torch.Tensor): Label map, ``(H, W)`` or
            ``(1, H, W)`` with values in ``[0, 255]``.
        size (Sequence[int]): Target ``(height, width)``.
        backend (str): ``'pil'`` uses ``PIL.Image.NEAREST`` (what LAVT,
            RMSIN and FIANet do through torchvision on PIL masks);
            ``'cv2'`` uses ``cv2.INTER_NEAREST`` (MMCV/MMSeg convention).
            The two differ by a pixel shift for non-integer scale factors.
            Defaults to ``'pil'``.

    Returns:
        np.ndarray: The resized ``uint8`` label map of shape ``size``.
    """
    label = _to_numpy_2d(label)
    h, w = int(size[0]), int(size[1])
    if label.shape == (h, w):
        return label.astype(np.uint8, copy=False)
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError('Label values must lie in [0, 255] to be resized.')
    label = label.astype(np.uint8)
    if backend == 'pil':
        return np.asarray(
            Image.fromarray(label).resize((w, h), Image.NEAREST))
    if backend == 'cv2':
        return cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST)
    raise ValueError(f"backend must be 'pil' or 'cv2', got {backend!r}.")


#: Size buckets of :class:`RefSegMetric`, smallest first.
SIZE_BUCKETS = ('small', 'medium', 'large')
#: Bucket of a sample whose ground truth has no foreground pixel.
EMPTY_BUCKET = 'empty'
#: Group of samples without a category.
NO_CATEGORY = '(none)'
#: Breakdowns :class:`RefSegMetric` can add to its returned metrics.
BREAKDOWNS = ('size', 'category')


def size_bucket(gt_area: int, num_pixels: int,
                thresholds: Sequence[float] = (32**2, 96**2),
                unit: str = 'pixels') -> str:
    """The size bucket of one referred object.

    Args:
        gt_area (int): Foreground pixels of the ground truth (at the
            evaluation resolution).
        num_pixels (int): Pixels of the image at that resolution.
        thresholds (Sequence[float]): ``(small_max, medium_max)``: an object
            is small when its area is ``< small_max``, medium when
            ``< medium_max``, large otherwise. In pixels or as a fraction of
            the image, see ``unit``. Defaults to COCO's ``(32**2, 96**2)``.
        unit (str): ``'pixels'`` or ``'fraction'`` (``gt_area /
            num_pixels``). Defaults to ``'pixels'``.

    Returns:
        str: ``'small'``, ``'medium'``, ``'large'``, or ``'empty'`` when the
        ground truth has no foreground.
    """
    if gt_area <= 0:
        return EMPTY_BUCKET
    area = gt_area / max(num_pixels, 1) if unit == 'fraction' else gt_area
    if area < thresholds[0]:
        return SIZE_BUCKETS[0]
    if area < thresholds[1]:
        return SIZE_BUCKETS[1]
    return SIZE_BUCKETS[2]


@METRICS.register_module()
class RefSegMetric(BaseMetric):
    """Referring segmentation metric (oIoU, mIoU, Prec@X), overall, by
    object size and by category.

    Every data sample is one (image, expression, mask) triplet whose
    referred object has label ``1``. For each sample only counts are stored
    (foreground intersection, union, ground-truth area, image pixels) plus
    its id and category, so collecting results across ranks is cheap and
    exact.

    Reported metrics, in percent like MMSeg:

    * ``oIoU`` (a.k.a. cIoU, overall IoU): ``sum(I) / sum(U)`` over samples.
    * ``mIoU`` (a.k.a. gIoU): mean of the per-expression IoU. This is *not*
      MMSeg's ``IoUMetric`` mIoU (a mean over the classes {bg, fg}).
    * ``Prec@t`` for every ``t`` in ``prec_thresholds``: fraction of samples
      whose IoU is ``>= t`` (LAVT convention).

    Empty-union policy: when the prediction and the ground truth are both
    empty (no referred object and none predicted, e.g. some RISBench test
    samples), the per-sample IoU is ``empty_union_iou`` (default ``1.0``:
    predicting nothing for an absent target is correct). LAVT/RMSIN and
    MMDet's ``RefSegMetric`` use ``0.0`` instead; ``None`` drops such
    samples from ``mIoU`` and ``Prec@t``. These samples always add 0 to
    both oIoU sums. If every sample has an empty union, ``oIoU`` equals
    ``empty_union_iou`` (or NaN when it is ``None``).

    Breakdowns (the same oIoU / mIoU / Prec@t over a subset, plus its
    count; printed as tables at every evaluation and written to the json):

    * **by object size**: the ground-truth foreground area at the
      evaluation resolution (what is scored: 480x480 in the paper configs'
      ``'input'`` protocol) is bucketed with ``size_thresholds``. Default:
      COCO's ``32**2`` / ``96**2`` pixels (small < 1,024 px <= medium
      < 9,216 px <= large), the best-known convention, so the buckets mean
      the same to readers of detection papers. At 480x480 these are 0.44 %
      and 4.0 % of the image. Fixed pixel thresholds depend on the
      resolution the metric sees: with ``eval_resolution='original'`` an
      RRSIS-D object is bucketed at 800x800. Set ``size_unit='fraction'``
      (e.g. ``size_thresholds=(0.0044, 0.04)``) for buckets that do not.
      A ground truth without foreground falls into a fourth bucket,
      ``'empty'`` (it would otherwise inflate 'small').
    * **by category**: the data sample's ``category`` (metainfo packed by
      ``PackReferringInputs``): RRSIS-D's annotated class; RefSegRS's and
      RISBench's *derived* from the expression (the class it names first,
      see :class:`~mmrrsis.datasets.categories.CategoryMatcher`). Samples
      without one are grouped as ``'(none)'``. No category table is
      printed when no sample has a category.

    Returned keys: ``oIoU``, ``mIoU``, ``Prec@t`` (unchanged, so
    ``save_best='oIoU'`` works), plus for each breakdown in
    ``log_breakdowns`` ``oIoU/<group>`` and ``mIoU/<group>``: by default
    ``oIoU/small``, ``mIoU/small``, ... for the non-empty size buckets
    (the ``'empty'`` bucket is never returned); ``'category'`` adds
    ``oIoU/cat/<name>`` and ``mIoU/cat/<name>`` (spaces -> ``_``) for every
    category, which floods a training log with 20+ classes, hence off by
    default. Everything is in the tables and the json either way.

    Evaluation resolution:

    * ``'original'``: ``pred_sem_seg`` (original image size) against
      ``gt_sem_seg`` (MMSeg protocol).
    * ``'input'``: ``pred_sem_seg_input`` (the prediction at the network
      input size ``img_shape``, attached by the segmentor) against the
      ground truth resized to ``img_shape`` by nearest interpolation
      (LAVT/RMSIN/FIANet protocol). Numbers from the two protocols are not
      strictly comparable; report which one you used.

    Args:
        eval_resolution (str): ``'original'`` or ``'input'``.
            Defaults to ``'original'``.
        prec_thresholds (Sequence[float]): IoU thresholds in ``(0, 1]``
            for ``Prec@t``. Defaults to ``(0.5, 0.6, 0.7, 0.8, 0.9)``.
        empty_union_iou (float, optional): IoU given to samples with an
            empty union; ``None`` excludes them from mIoU and Prec@t.
            Defaults to 1.0.
        ignore_index (int): Ground-truth label excluded from the counts.
            Defaults to 255.
        gt_resize_backend (str): Nearest resize used for the ground truth
            in ``'input'`` mode: ``'pil'`` (LAVT) or ``'cv2'`` (MMCV).
            Defaults to ``'pil'``.
        size_thresholds (Sequence[float]): ``(small_max, medium_max)``, see
            above and :func:`size_bucket`. Defaults to ``(1024, 9216)``.
        size_unit (str): ``'pixels'`` or ``'fraction'`` of the image.
            Defaults to ``'pixels'``.
        log_breakdowns (Sequence[str]): Breakdowns whose figures are also
            returned (and so logged): any of ``'size'``, ``'category'``.
            Defaults to ``('size',)``.
        print_breakdowns (bool): Print the size and category tables.
            Defaults to True.
        output_dir (str, optional): Directory for the json.
            Defaults to None.
        save_per_sample (bool): Write ``per_sample_iou.json`` into
            ``output_dir`` at every evaluation: ``{'protocol': {...},
            'summary': {'overall': {...}, 'by_size': {bucket: {...}},
            'by_category': {name: {...}}}, 'samples': [...]}``. A summary
            entry holds ``count``, ``oIoU``, ``mIoU`` and ``Prec@t`` (in
            percent, None where undefined); a sample record holds
            ``sample_idx``, ``iou``, ``intersection``, ``union``,
            ``gt_area``, ``size``, ``category``, ``text``, ``img_path``,
            sorted by IoU, worst first. Needs ``output_dir``.
            Defaults to False.
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix for the metric names.
            Defaults to None.
        collect_dir (str, optional): Shared directory used to collect
            results across ranks with ``collect_device='cpu'``.
            Defaults to None (a temporary directory).
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 eval_resolution: str = 'original',
                 prec_thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                 empty_union_iou: Optional[float] = 1.0,
                 ignore_index: int = 255,
                 gt_resize_backend: str = 'pil',
                 size_thresholds: Sequence[float] = (32**2, 96**2),
                 size_unit: str = 'pixels',
                 log_breakdowns: Sequence[str] = ('size', ),
                 print_breakdowns: bool = True,
                 output_dir: Optional[str] = None,
                 save_per_sample: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if eval_resolution not in ('original', 'input'):
            raise ValueError("eval_resolution must be 'original' or "
                             f"'input', got {eval_resolution!r}.")
        if gt_resize_backend not in ('pil', 'cv2'):
            raise ValueError("gt_resize_backend must be 'pil' or 'cv2', "
                             f'got {gt_resize_backend!r}.')
        thresholds = [float(t) for t in prec_thresholds]
        if any(not 0.0 < t <= 1.0 for t in thresholds):
            raise ValueError(
                f'prec_thresholds must lie in (0, 1], got {thresholds}.')
        if empty_union_iou is not None and not (
                0.0 <= float(empty_union_iou) <= 1.0):
            raise ValueError('empty_union_iou must be None or in [0, 1], '
                             f'got {empty_union_iou}.')
        if size_unit not in ('pixels', 'fraction'):
            raise ValueError("size_unit must be 'pixels' or 'fraction', "
                             f'got {size_unit!r}.')
        size_thresholds = tuple(float(t) for t in size_thresholds)
        if len(size_thresholds) != 2 or not (
                0 < size_thresholds[0] <= size_thresholds[1]):
            raise ValueError('size_thresholds must be (small_max, '
                             'medium_max) with 0 < small_max <= medium_max, '
                             f'got {size_thresholds}.')
        if size_unit == 'fraction' and size_thresholds[1] > 1:
            raise ValueError("size_unit='fraction' needs thresholds <= 1, "
                             f'got {size_thresholds}.')
        if isinstance(log_breakdowns, str):
            log_breakdowns = (log_breakdowns, )
        unknown = [b for b in log_breakdowns if b not in BREAKDOWNS]
        if unknown:
            raise ValueError(f'log_breakdowns: unknown {unknown}; choose '
                             f'from {BREAKDOWNS}.')
        if save_per_sample and not output_dir:
            raise ValueError('save_per_sample=True needs an output_dir.')
        self.eval_resolution = eval_resolution
        self.prec_thresholds = thresholds
        self.empty_union_iou = (None if empty_union_iou is None else
                                float(empty_union_iou))
        self.ignore_index = ignore_index
        self.gt_resize_backend = gt_resize_backend
        self.size_thresholds = size_thresholds
        self.size_unit = size_unit
        self.log_breakdowns = tuple(log_breakdowns)
        self.print_breakdowns = print_breakdowns
        self.output_dir = output_dir
        self.save_per_sample = save_per_sample

    # ------------------------------------------------------------------
    # per-sample processing
    # ------------------------------------------------------------------
    @staticmethod
    def _get_data(data_sample: Dict[str, Any], key: str) -> ArrayLike:
        """Return the label tensor stored under ``data_sample[key]``."""
        field = data_sample[key]
        if isinstance(field, dict):
            return field['data']
        if hasattr(field, 'data'):  # PixelData passed without to_dict()
            return field.data
        return field

    def _pred_and_gt(self, data_sample: Dict[str, Any]
                     ) -> Tuple[ArrayLike, ArrayLike]:
        """Select the prediction and GT at the configured resolution."""
        if 'gt_sem_seg' not in data_sample:
            raise KeyError('RefSegMetric needs `gt_sem_seg` in every data '
                           'sample (is the annotation loaded in the '
                           'test pipeline?).')
        gt = self._get_data(data_sample, 'gt_sem_seg')
        if self.eval_resolution == 'original':
            return self._get_data(data_sample, 'pred_sem_seg'), gt
        if 'pred_sem_seg_input' not in data_sample:
            raise KeyError(
                "RefSegMetric(eval_resolution='input') needs "
                '`pred_sem_seg_input` (the prediction at the network input '
                'size) in every data sample, but it is missing; use a '
                "referring segmentor that attaches it or set "
                "eval_resolution='original'.")
        if 'img_shape' not in data_sample:
            raise KeyError("RefSegMetric(eval_resolution='input') needs the "
                           '`img_shape` metainfo key.')
        pred = _to_numpy_2d(self._get_data(data_sample, 'pred_sem_seg_input'))
        img_shape = tuple(int(s) for s in data_sample['img_shape'][:2])
        if pred.shape != img_shape:
            raise ValueError(
                f'pred_sem_seg_input has shape {pred.shape} but img_shape '
                f'is {img_shape}.')
        gt = resize_label_nearest(gt, img_shape, self.gt_resize_backend)
        return pred, gt

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Count the pixels of every sample of a batch.

        Stores ``sample_idx``, ``intersection``, ``union``, ``gt_area``
        (foreground pixels of the ground truth at the evaluation
        resolution), ``num_pixels`` (pixels of that label map) and
        ``category`` per sample.

        Args:
            data_batch (Any): A batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, each one a
                ``SegDataSample.to_dict()``.
        """
        for data_sample in data_samples:
            pred, gt = self._pred_and_gt(data_sample)
            gt = _to_numpy_2d(gt)
            inter, union = intersection_and_union(
                pred, gt, foreground=1, ignore_index=self.ignore_index)
            sample_idx = data_sample.get('sample_idx')
            category = data_sample.get('category')
            result: Dict[str, Any] = dict(
                sample_idx=None if sample_idx is None else int(sample_idx),
                intersection=inter,
                union=union,
                gt_area=int(np.count_nonzero(gt == 1)),
                num_pixels=int(gt.size),
                category=None if category is None else str(category))
            if self.save_per_sample:
                result['text'] = data_sample.get('text')
                result['img_path'] = data_sample.get('img_path')
            self.results.append(result)

    # ------------------------------------------------------------------
    # aggregation
    # ------------------------------------------------------------------
    def _sample_iou(self, inter: int, union: int) -> Optional[float]:
        """Per-sample IoU under the empty-union policy."""
        if union == 0:
            return self.empty_union_iou
        return inter / union

    def _prec_key(self, thr: float) -> str:
        """Metric name of one precision threshold, e.g. ``Prec@0.5``."""
        return f'Prec@{thr:g}'

    def _size_of(self, result: dict) -> Optional[str]:
        """Size bucket of a stored result (None for results without the
        area, e.g. collected by an older version)."""
        if 'gt_area' not in result:
            return None
        return size_bucket(result['gt_area'], result.get('num_pixels', 0),
                           self.size_thresholds, self.size_unit)

    def summarize(self, results: Sequence[dict]) -> Dict[str, float]:
        """oIoU, mIoU and Prec@t (in percent) and the count of a subset.

        Args:
            results (Sequence[dict]): Stored per-sample results.

        Returns:
            dict[str, float]: ``count``, ``oIoU``, ``mIoU``, ``Prec@t``;
            NaN where undefined (no sample, or only empty unions with
            ``empty_union_iou=None``).
        """
        total_i = sum(int(r['intersection']) for r in results)
        total_u = sum(int(r['union']) for r in results)
        ious = [self._sample_iou(r['intersection'], r['union'])
                for r in results]
        scored = np.array([v for v in ious if v is not None], dtype=np.float64)
        if total_u > 0:
            oiou = total_i / total_u
        elif results and self.empty_union_iou is not None:
            oiou = self.empty_union_iou
        else:
            oiou = float('nan')
        miou = float(scored.mean()) if scored.size else float('nan')
        out: Dict[str, float] = dict(
            count=len(results), oIoU=oiou * 100.0, mIoU=miou * 100.0)
        for thr in self.prec_thresholds:
            prec = float((scored >= thr).mean()) if scored.size else float(
                'nan')
            out[self._prec_key(thr)] = prec * 100.0
        return out

    def breakdown(self, results: Sequence[dict]
                  ) -> Dict[str, Dict[str, Dict[str, float]]]:
        """Per-size and per-category :meth:`summarize` figures.

        Args:
            results (Sequence[dict]): Stored per-sample results.

        Returns:
            dict: ``{'by_size': {bucket: figures}, 'by_category': {name:
            figures}}``. ``by_size`` holds 'small', 'medium', 'large'
            (count 0 and NaN figures when a bucket is empty) and 'empty'
            when some ground truth is empty; ``by_category`` is sorted by
            name, ``'(none)'`` last, and empty when no sample has a
            category.
        """
        by_size: Dict[str, List[dict]] = OrderedDict(
            (b, []) for b in SIZE_BUCKETS)
        by_cat: Dict[str, List[dict]] = {}
        for res in results:
            size = self._size_of(res)
            if size is not None:
                by_size.setdefault(size, []).append(res)
            by_cat.setdefault(res.get('category') or NO_CATEGORY,
                              []).append(res)
        if set(by_cat) <= {NO_CATEGORY}:
            by_cat = {}
        names = sorted(c for c in by_cat if c != NO_CATEGORY)
        if NO_CATEGORY in by_cat:
            names.append(NO_CATEGORY)
        return dict(
            by_size=OrderedDict(
                (b, self.summarize(r)) for b, r in by_size.items()),
            by_category=OrderedDict(
                (c, self.summarize(by_cat[c])) for c in names))

    def _size_rule(self) -> str:
        lo, hi = self.size_thresholds
        if self.size_unit == 'fraction':
            return (f'GT area / image: small < {lo:g} <= medium < {hi:g} '
                    '<= large')
        return (f'GT area at the evaluation resolution: small < {lo:g} px '
                f'<= medium < {hi:g} px <= large')

    def _table(self, title: str, first: str,
               groups: Dict[str, Dict[str, float]]) -> str:
        table = PrettyTable()
        keys = ['oIoU', 'mIoU'] + [self._prec_key(t)
                                   for t in self.prec_thresholds]
        table.field_names = [first, 'count'] + keys
        for name, figs in groups.items():
            table.add_row([name, int(figs['count'])] + [
                '-' if np.isnan(figs[k]) else f'{figs[k]:.2f}' for k in keys])
        return f'{title}\n{table.get_string()}'

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute oIoU, mIoU and Prec@X overall and per breakdown.

        Args:
            results (list[dict]): Per-sample counts gathered from all ranks.

        Returns:
            dict[str, float]: ``oIoU``, ``mIoU`` and ``Prec@t``, in percent,
            plus ``oIoU/<group>`` / ``mIoU/<group>`` for ``log_breakdowns``.
        """
        idxs = [
            r['sample_idx'] for r in results if r['sample_idx'] is not None
        ]
        dups = [i for i, c in Counter(idxs).items() if c > 1]
        if dups:
            print_log(
                f'RefSegMetric: {len(dups)} sample_idx values occur more '
                f'than once (e.g. {dups[:5]}); every occurrence is counted.',
                logger='current', level=logging.WARNING)

        overall = self.summarize(results)
        num_empty = sum(1 for r in results if r['union'] == 0)
        metrics: Dict[str, float] = OrderedDict(
            (k, v) for k, v in overall.items() if k != 'count')
        groups = self.breakdown(results)
        if 'size' in self.log_breakdowns:
            for bucket in SIZE_BUCKETS:
                figs = groups['by_size'].get(bucket)
                if figs and figs['count']:
                    metrics[f'oIoU/{bucket}'] = figs['oIoU']
                    metrics[f'mIoU/{bucket}'] = figs['mIoU']
        if 'category' in self.log_breakdowns:
            for name, figs in groups['by_category'].items():
                key = name.replace(' ', '_')
                metrics[f'oIoU/cat/{key}'] = figs['oIoU']
                metrics[f'mIoU/cat/{key}'] = figs['mIoU']

        table = PrettyTable()
        table.field_names = ['metric', 'value (%)']
        for key, val in overall.items():
            if key != 'count':
                table.add_row([key, f'{val:.2f}'])
        msg = (f'RefSegMetric (eval_resolution={self.eval_resolution}, '
               f'{len(results)} expressions, {num_empty} with empty union '
               f'-> IoU {self.empty_union_iou}):\n' + table.get_string())
        if self.print_breakdowns:
            msg += '\n' + self._table(
                f'IoU by object size ({self._size_rule()}):', 'size',
                groups['by_size'])
            if groups['by_category']:
                msg += '\n' + self._table(
                    'IoU by category (RRSIS-D: annotated; RefSegRS / '
                    'RISBench: derived from the expression):', 'category',
                    groups['by_category'])
        print_log(msg, logger='current')

        if self.save_per_sample and self.output_dir:
            self._dump(results, overall, groups)
        return dict(metrics)

    @staticmethod
    def _json_figures(figs: Dict[str, float]) -> Dict[str, Any]:
        """Figures with NaN as None (valid json)."""
        return {
            k: (int(v) if k == 'count' else
                None if np.isnan(v) else round(float(v), 4))
            for k, v in figs.items()
        }

    def _dump(self, results: List[dict], overall: Dict[str, float],
              groups: Dict[str, Dict[str, Dict[str, float]]]) -> None:
        """Write ``per_sample_iou.json``: protocol, summary and the
        per-sample records, worst samples first."""
        records = []
        for res in results:
            iou = self._sample_iou(res['intersection'], res['union'])
            records.append(
                dict(
                    sample_idx=res['sample_idx'],
                    iou=None if iou is None else float(iou),
                    intersection=int(res['intersection']),
                    union=int(res['union']),
                    gt_area=res.get('gt_area'),
                    size=self._size_of(res),
                    category=res.get('category'),
                    text=res.get('text'),
                    img_path=res.get('img_path')))
        records.sort(key=lambda r: (2.0 if r['iou'] is None else r['iou'],
                                    -1 if r['sample_idx'] is None else
                                    r['sample_idx']))
        report = dict(
            protocol=dict(
                eval_resolution=self.eval_resolution,
                empty_union_iou=self.empty_union_iou,
                size_thresholds=list(self.size_thresholds),
                size_unit=self.size_unit,
                size_rule=self._size_rule(),
                category_source='RRSIS-D: annotated category_id; RefSegRS '
                '/ RISBench: derived from the expression (first class '
                'named); (none): no category'),
            summary=dict(
                overall=self._json_figures(overall),
                by_size={
                    k: self._json_figures(v)
                    for k, v in groups['by_size'].items()
                },
                by_category={
                    k: self._json_figures(v)
                    for k, v in groups['by_category'].items()
                }),
            samples=records)
        os.makedirs(self.output_dir, exist_ok=True)
        out_file = osp.join(self.output_dir, 'per_sample_iou.json')
        with open(out_file, 'w', encoding='utf-8') as f:
            json.dump(report, f, ensure_ascii=False, indent=1)
        print_log(
            f'RefSegMetric: per-sample IoU (with category and size) and the '
            f'per-size / per-category summary written to {out_file}',
            logger='current')
