"""Base class of referring segmentation datasets."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmseg.datasets import BaseSegDataset

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

    Data info keys: ``img_path``, ``seg_map_path`` (None when the mask is
    provided otherwise), ``text`` (the raw expression), ``ref_id``,
    ``sent_id``, ``img_id``, ``sample_idx``, ``seg_fields=[]``,
    ``reduce_zero_label=False``, ``label_map`` (None unless ``metainfo``
    remaps the classes), plus any extra keys a subclass adds.

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
    """

    METAINFO: dict = dict(
        classes=('background', 'target'), palette=[[0, 0, 0], [255, 0, 0]])
    #: Splits a subclass accepts; None accepts any.
    SPLITS: Optional[Sequence[str]] = None

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
                 backend_args: Optional[dict] = None) -> None:
        if self.SPLITS is not None and split not in self.SPLITS:
            raise ValueError(f'{self.__class__.__name__}: split must be one '
                             f'of {tuple(self.SPLITS)}, got {split!r}')
        self.split = split
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

    def load_data_list(self) -> List[dict]:
        """Check the layout, load the samples and number them.

        Returns:
            list[dict]: Data infos with ``sample_idx`` = position.
        """
        self.check_layout()
        samples = self.load_samples()
        for idx, info in enumerate(samples):
            missing = [k for k in DATA_INFO_KEYS if k not in info]
            if missing:
                raise KeyError(f'{self.__class__.__name__}: sample {idx} '
                               f'lacks the keys {missing}')
            info['sample_idx'] = idx
        return samples
