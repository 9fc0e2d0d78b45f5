"""Base class of referring segmentation datasets."""
import os.path as osp
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from .categories import CategoryMatcher, CategoryWords

#: Keys every referring data info carries (docs/contracts.md).
DATA_INFO_KEYS = ('img_path', 'seg_map_path', 'text', 'ref_id', 'sent_id',
                  'img_id', 'sample_idx', 'seg_fields', 'reduce_zero_label',
                  'label_map')


class BaseReferringDataset(BaseSegDataset):
    """One sample per (image, referring expression, mask of the object).

    Subclasses describe their on-disk layout in :meth:`expected_layout` and
    read their annotation in :meth:`load_samples`, building every entry with
    :meth:`make_data_info`. Before loading, the layout is checked so that a
    wrong ``data_root`` fails with a message that says what was expected at
    which path. ``sample_idx`` is the position in the data list (MMEngine
    also resets it to the dataset index in ``get_data_info``).

    The label space is binary: ``classes=('background', 'target')`` and
    ``reduce_zero_label`` is always False.

    Bad input (checked in :meth:`load_data_list`; every message names the
    dataset class, the split and the ref ids):

    - a missing ``data_root``, folder or annotation file raises
      ``FileNotFoundError`` naming the path, what was expected there and
      the split (:meth:`check_layout`);
    - a sample the annotation itself makes unusable (no sentence, a ref
      whose annotation or image entry is missing, an undecodable mask
      field) is passed by the subclass to :meth:`reject`. By default this
      raises one ``ValueError`` that lists all of them (annotation errors
      should be fixed, not silently trained around); with
      ``skip_invalid=True`` they are dropped with one warning instead;
    - with ``check_files=True`` every sample's image (and mask file) is
      stat'ed; a sample whose file is missing is dropped with one warning
      that lists the ref ids and paths (released sets are known to miss a
      few images, e.g. RRSIS-D, Lsan2401/RMSIN#1). It is off by default
      so that loading never touches the image folders; the configs turn
      it on;
    - with ``check_masks=True`` every mask's foreground area is computed
      (:meth:`mask_area`) and empty or all-foreground masks are handled by
      ``invalid_mask``: ``'warn'`` keeps them and warns once with their
      ref ids (they stay in the benchmark and the metric decides how they
      score), ``'skip'`` drops them, ``'raise'`` refuses them;
    - if no sample is left, ``ValueError``.

    What was found is kept in :attr:`load_report` (problem -> list of
    ``(ref_id, detail)``) for tools and tests.

    Data info keys: ``img_path``, ``seg_map_path`` (None when the mask is
    provided otherwise), ``text`` (the raw expression), ``ref_id``,
    ``sent_id``, ``img_id``, ``sample_idx``, ``seg_fields=[]``,
    ``reduce_zero_label=False``, ``label_map`` (None unless ``metainfo``
    remaps the classes), ``category`` (the object's class name for
    per-category evaluation: from the annotation, derived from the text with
    ``category_words``, or None), plus any extra keys a subclass adds.

    This class is abstract and not registered; see
    :class:`~mmrrsis.datasets.RefSegRSDataset` for a concrete dataset.

    Args:
        data_root (str, optional): Root folder of the dataset.
        split (str): Which split to load, e.g. 'train', 'val', 'test'.
        ann_file (str): Annotation file, relative to ``data_root`` unless
            absolute. Defaults to '' (the subclass decides).
        img_suffix (str): Image file suffix. Defaults to '.jpg'.
        seg_map_suffix (str): Mask file suffix. Defaults to '.png'.
        metainfo (dict, optional): Meta information overrides.
        data_prefix (dict): Image and mask folders relative to ``data_root``.
            Defaults to ``dict(img_path='', seg_map_path='')``.
        filter_cfg (dict, optional): Unused by default; kept for MMEngine.
        indices (int | Sequence[int], optional): Keep only these samples.
        serialize_data (bool): Serialize the data list. Defaults to True.
        pipeline (list[dict | Callable]): Processing pipeline.
        test_mode (bool): Test phase flag. Defaults to False.
        lazy_init (bool): Defer loading the annotation. Defaults to False.
        max_refetch (int): Refetch attempts for a None sample.
        ignore_index (int): Ignored label value. Defaults to 255.
        backend_args (dict, optional): mmengine file backend arguments.
        check_files (bool): Stat every image / mask file at load and drop
            samples whose file is missing (with a warning). Defaults to
            False.
        check_masks (bool): Compute every mask's area at load and apply
            ``invalid_mask`` to empty / all-foreground masks. Defaults to
            False.
        invalid_mask (str): ``'warn'``, ``'skip'`` or ``'raise'`` (see
            above). Defaults to ``'warn'``.
        skip_invalid (bool): Drop rejected samples with a warning instead
            of raising. Defaults to False.
        category_words (str | Sequence[str] | dict, optional): Derive the
            ``category`` of every sample that the annotation gives none
            from its expression with
            :class:`~mmrrsis.datasets.categories.CategoryMatcher` (the class
            it names first; a name such as ``'risbench'`` / ``'refsegrs'``,
            a list of class phrases or a dict ``category -> phrases``).
            None leaves such samples without one. Used by ``RefSegMetric``
            for per-category IoU. Defaults to None.
    """

    METAINFO: dict = dict(
        classes=('background', 'target'), palette=[[0, 0, 0], [255, 0, 0]])
    #: Splits a subclass accepts; None accepts any.
    SPLITS: Optional[Sequence[str]] = None
    #: Foreground of a mask file is ``value > MASK_THRESHOLD`` (used by
    #: :meth:`mask_area`; keep it equal to the pipeline's threshold).
    MASK_THRESHOLD: float = 50
    #: How many ref ids a warning or error lists before '... and N more'.
    MAX_LISTED: int = 10

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 ann_file: str = '',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 metainfo: Optional[dict] = None,
                 data_prefix: dict = dict(img_path='', seg_map_path=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 ignore_index: int = 255,
                 backend_args: Optional[dict] = None,
                 check_files: bool = False,
                 check_masks: bool = False,
                 invalid_mask: str = 'warn',
                 skip_invalid: bool = False,
                 category_words: Optional[CategoryWords] = None) -> None:
        if self.SPLITS is not None and split not in self.SPLITS:
            raise ValueError(f'{self.__class__.__name__}: split must be one '
                             f'of {tuple(self.SPLITS)}, got {split!r}')
        if invalid_mask not in ('warn', 'skip', 'raise'):
            raise ValueError(f"{self.__class__.__name__}: invalid_mask must "
                             f"be 'warn', 'skip' or 'raise', got "
                             f'{invalid_mask!r}')
        self.split = split
        self.check_files = check_files
        self.check_masks = check_masks
        self.invalid_mask = invalid_mask
        self.skip_invalid = skip_invalid
        self.category_words = category_words
        self.load_report: Dict[str, List[Tuple]] = OrderedDict()
        self._rejected: List[Tuple] = []
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            ignore_index=ignore_index,
            reduce_zero_label=False,
            backend_args=backend_args)

    # ------------------------------------------------------------ hooks
    def expected_layout(self) -> Dict[str, str]:
        """What must exist before loading.

        Returns:
            dict[str, str]: Maps a path (already joined with ``data_root``) to
            a short description of what is expected there, e.g.
            ``{'/data/refsegrs/images': 'the image folder'}``. A path ending
            with '/' must be a folder; otherwise it must be a file. Empty by
            default.
        """
        return {}

    def load_samples(self) -> List[dict]:
        """Read the annotation; one :meth:`make_data_info` dict per sample.

        Returns:
            list[dict]: The samples, in a deterministic order.
        """
        raise NotImplementedError(
            f'{self.__class__.__name__} must implement load_samples()')

    # ------------------------------------------------------------ helpers
    def make_data_info(self, img_path: str, seg_map_path: Optional[str],
                       text: str, ref_id: Union[int, str],
                       sent_id: Union[int, str], img_id: Union[int, str],
                       **extra) -> dict:
        """Build one data info with the contract's keys.

        Args:
            img_path (str): Image file.
            seg_map_path (str, optional): Mask file, or None when the mask
                comes another way (e.g. ``gt_mask`` in ``extra``).
            text (str): The raw referring expression.
            ref_id (int | str): Id of the referred object.
            sent_id (int | str): Id of the sentence.
            img_id (int | str): Id of the image.
            **extra: Additional keys copied into the data info.

        Returns:
            dict: The data info (``sample_idx`` is set by
            :meth:`load_data_list`).
        """
        info = dict(
            img_path=img_path,
            seg_map_path=seg_map_path,
            text=text,
            ref_id=ref_id,
            sent_id=sent_id,
            img_id=img_id,
            sample_idx=-1,
            seg_fields=[],
            reduce_zero_label=False,
            label_map=self.label_map)
        info.update(extra)
        return info

    def check_layout(self) -> None:
        """Check ``data_root`` and :meth:`expected_layout`.

        Raises:
            FileNotFoundError: Names the missing path and what was expected
                there.
        """
        name = self.__class__.__name__
        layout = self.expected_layout()
        if self.backend_args:  # remote storage: nothing to stat cheaply
            return
        if self.data_root is not None and not osp.isdir(self.data_root):
            what = '; '.join(f'{osp.relpath(p.rstrip("/"), self.data_root)}'
                             f'{"/" if p.endswith("/") else ""} ({d})'
                             for p, d in layout.items())
            raise FileNotFoundError(
                f'{name}: data_root {self.data_root!r} is not a directory'
                + (f'; expected it to contain {what}' if what else ''))
        for path, desc in layout.items():
            is_dir = path.endswith('/')
            clean = path.rstrip('/') if is_dir else path
            ok = osp.isdir(clean) if is_dir else osp.isfile(clean)
            if not ok:
                kind = 'folder' if is_dir else 'file'
                raise FileNotFoundError(
                    f'{name}: expected {desc} ({kind}) at {clean} but it '
                    f'does not exist (data_root={self.data_root!r}, '
                    f'split={self.split!r})')

    def reject(self, ref_id: Union[int, str], reason: str) -> None:
        """Record a sample that the annotation makes unusable.

        Called by :meth:`load_samples` instead of appending the sample;
        :meth:`load_data_list` raises for all of them at once, or drops
        them with one warning when ``skip_invalid`` is set.

        Args:
            ref_id (int | str): Id of the referred object.
            reason (str): What is wrong (with the file / line if known).
        """
        self._rejected.append((ref_id, reason))

    def sample_files(self, info: dict) -> List[Tuple[str, str]]:
        """The files a sample needs: ``[(kind, path), ...]``.

        Defaults to the image and, when set, the mask file.
        """
        files = [('image', info['img_path'])]
        if info.get('seg_map_path'):
            files.append(('mask', info['seg_map_path']))
        return files

    def mask_area(self, info: dict) -> Tuple[int, int]:
        """Foreground and total pixel counts of a sample's mask.

        An in-memory ``gt_mask`` with an ``area()`` method (a
        :class:`~mmrrsis.datasets.coco_mask.CocoMask`) is measured on its
        RLE without decoding; otherwise the mask is read with the
        pipeline's loader and ``value > MASK_THRESHOLD``.
        """
        mask = info.get('gt_mask')
        if mask is not None and hasattr(mask, 'area'):
            h, w = mask.shape
            return mask.area(), h * w
        from .transforms import LoadReferringAnnotations
        loader = LoadReferringAnnotations(
            threshold=self.MASK_THRESHOLD, backend_args=self.backend_args)
        gt = loader(dict(info, seg_fields=[]))['gt_seg_map']
        return int(gt.sum()), int(gt.size)

    def _listing(self, items: Sequence[Tuple]) -> str:
        shown = [f'ref {r!r}: {d}' for r, d in items[:self.MAX_LISTED]]
        more = len(items) - len(shown)
        return '; '.join(shown) + (f'; ... and {more} more' if more else '')

    def _warn(self, msg: str) -> None:
        print_log(f'{self.__class__.__name__} (split {self.split!r}): {msg}',
                  logger='current', level=30)

    def _filter_missing_files(self, samples: List[dict]) -> List[dict]:
        kept, missing = [], []
        for info in samples:
            absent = [(k, p) for k, p in self.sample_files(info)
                      if not osp.isfile(p)]
            if absent:
                missing.append((info['ref_id'], ', '.join(
                    f'{k} {p}' for k, p in absent)))
            else:
                kept.append(info)
        if missing:
            self.load_report['missing_file'] = missing
            self._warn(f'skipped {len(missing)} of {len(samples)} samples '
                       f'whose files are missing: {self._listing(missing)}')
        return kept

    def _check_mask_areas(self, samples: List[dict]) -> List[dict]:
        cache: Dict[int, Tuple[int, int]] = {}
        empty, full, bad = [], [], []
        for i, info in enumerate(samples):
            mask = info.get('gt_mask')
            key = id(mask) if mask is not None else info.get('seg_map_path')
            try:
                if key is not None and key in cache:
                    area, total = cache[key]
                else:
                    area, total = self.mask_area(info)
                    if key is not None:
                        cache[key] = (area, total)
            except (OSError, ValueError) as err:
                bad.append(i)
                self.reject(info['ref_id'], f'cannot read its mask ({err})')
                continue
            if area == 0:
                empty.append(i)
            elif area == total:
                full.append(i)
        drop = set(bad)
        if empty or full:
            listed = [(samples[i]['ref_id'], 'empty mask') for i in empty] + [
                (samples[i]['ref_id'], 'all-foreground mask') for i in full]
            self.load_report['empty_mask'] = listed[:len(empty)]
            self.load_report['full_mask'] = listed[len(empty):]
            what = (f'{len(empty)} empty and {len(full)} all-foreground '
                    f'masks in {len(samples)} samples')
            if self.invalid_mask == 'raise':
                raise ValueError(
                    f'{self.__class__.__name__} (split {self.split!r}): '
                    f"{what} (invalid_mask='raise'): "
                    f'{self._listing(listed)}')
            if self.invalid_mask == 'skip':
                drop.update(empty + full)
                self._warn(f'skipped {what}: {self._listing(listed)}')
            else:
                self._warn(f'kept {what} (they are scored by the metric\'s '
                           f'empty-union rule): {self._listing(listed)}')
        return [s for i, s in enumerate(samples) if i not in drop]

    def _set_categories(self, samples: List[dict]) -> None:
        """Give every sample a ``category`` key (derived from its text by
        ``category_words`` where the annotation has none, else None)."""
        matcher = (CategoryMatcher(self.category_words)
                   if self.category_words is not None else None)
        for info in samples:
            if info.get('category') is None:
                info['category'] = matcher(info['text']) if matcher else None

    def load_data_list(self) -> List[dict]:
        """Check the layout, load the samples, validate and number them.

        Returns:
            list[dict]: Data infos with ``sample_idx`` = position.

        Raises:
            FileNotFoundError: See :meth:`check_layout`.
            ValueError: Rejected samples (unless ``skip_invalid``), invalid
                masks with ``invalid_mask='raise'``, or no sample left.
        """
        name = self.__class__.__name__
        self.check_layout()
        self._rejected = []
        self.load_report = OrderedDict()
        samples = self.load_samples()
        total = len(samples) + len(self._rejected)
        self._set_categories(samples)
        if self.check_files and not self.backend_args:
            samples = self._filter_missing_files(samples)
        if self.check_masks:
            samples = self._check_mask_areas(samples)
        if self._rejected:
            rejected = list(self._rejected)
            self.load_report['invalid'] = rejected
            msg = (f'{len(rejected)} invalid sample(s) in split '
                   f'{self.split!r}: {self._listing(rejected)}')
            if not self.skip_invalid:
                raise ValueError(f'{name}: {msg} (pass skip_invalid=True to '
                                 'drop them instead)')
            self._warn('skipped ' + msg)
        if total and not samples:
            raise ValueError(f'{name}: no usable sample left in split '
                             f'{self.split!r} (data_root={self.data_root!r})'
                             f'; problems: {dict(self.load_report)}'[:2000])
        for idx, info in enumerate(samples):
            missing = [k for k in DATA_INFO_KEYS if k not in info]
            if missing:
                raise KeyError(f'{name}: sample {idx} lacks the keys '
                               f'{missing}')
            info['sample_idx'] = idx
        return samples
