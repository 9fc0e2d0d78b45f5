"""RefSegRS (Yuan et al., 2024) referring remote sensing segmentation."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmengine.fileio as fileio

from mmseg.registry import DATASETS
from .base_referring import BaseReferringDataset


@DATASETS.register_module()
class RefSegRSDataset(BaseReferringDataset):
    """RefSegRS: one sample per line of ``output_phrase_{split}.txt``.

    On-disk layout::

        data_root/
        ├── images/<id>.tif              # RGB image
        ├── masks/<id>.tif               # mask of the referred object
        ├── output_phrase_train.txt      # '<id> <expression words...>'
        ├── output_phrase_val.txt
        └── output_phrase_test.txt

    Each line is split on its first whitespace into ``<id>`` and the
    expression. The id names both the image and the mask, so it is used as
    ``img_id`` and ``ref_id``; ``sent_id`` is the sample's position in the
    split. Foreground is ``mask value > 50`` (applied by
    ``LoadReferringAnnotations``). Blank lines are skipped; a line with an
    id but no expression is an error. Images are not opened while loading.

    Args:
        data_root (str): Root folder with the layout above.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        ann_file (str): Phrase file; defaults to
            ``output_phrase_{split}.txt``.
        img_suffix (str): Image suffix. Defaults to '.tif'.
        seg_map_suffix (str): Mask suffix. Defaults to '.tif'.
        data_prefix (dict): Image / mask folders. Defaults to
            ``dict(img_path='images', seg_map_path='masks')``.
        metainfo (dict, optional): Meta information overrides.
        indices (int | Sequence[int], optional): Keep only these samples.
        serialize_data (bool): Serialize the data list. Defaults to True.
        pipeline (list[dict | Callable]): Processing pipeline.
        test_mode (bool): Test phase flag. Defaults to False.
        lazy_init (bool): Defer loading. Defaults to False.
        max_refetch (int): Refetch attempts for a None sample.
        ignore_index (int): Ignored label value. Defaults to 255.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        FileNotFoundError: ``data_root``, ``images/``, ``masks/`` or the
            split's phrase file is missing (the message names the path and
            the split).
        ValueError: A line has an empty expression (the message gives the
            file, line number and id).
    """

    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = '',
                 img_suffix: str = '.tif',
                 seg_map_suffix: str = '.tif',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 ignore_index: int = 255,
                 backend_args: Optional[dict] = None) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'RefSegRSDataset: split must be one of '
                             f'{self.SPLITS}, got {split!r}')
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file=ann_file or f'output_phrase_{split}.txt',
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            metainfo=metainfo,
            data_prefix=data_prefix,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            ignore_index=ignore_index,
            backend_args=backend_args)

    def expected_layout(self) -> Dict[str, str]:
        """The image and mask folders and the split's phrase file."""
        return {
            self.data_prefix['img_path'] + '/':
            f'the RefSegRS image folder (<id>{self.img_suffix})',
            self.data_prefix['seg_map_path'] + '/':
            f'the RefSegRS mask folder (<id>{self.seg_map_suffix})',
            self.ann_file:
            f"the phrase file of split '{self.split}' (lines '<id> "
            "<expression>')",
        }

    def load_samples(self) -> List[dict]:
        """Parse the phrase file of the split.

        Returns:
            list[dict]: One data info per non-blank line, in file order.
        """
        try:
            content = fileio.get_text(
                self.ann_file, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"RefSegRSDataset: phrase file of split '{self.split}' not "
                f'found: {self.ann_file}') from err
        img_dir = self.data_prefix['img_path']
        ann_dir = self.data_prefix['seg_map_path']
        samples = []
        for lineno, line in enumerate(content.splitlines(), start=1):
            line = line.lstrip('\ufeff')
            if not line.strip():
                continue
            parts = line.strip().split(maxsplit=1)
            sid = parts[0]
            text = parts[1].strip() if len(parts) > 1 else ''
            if not text:
                raise ValueError(
                    f'RefSegRSDataset: empty expression for id {sid!r} at '
                    f'line {lineno} of {self.ann_file}')
            samples.append(
                self.make_data_info(
                    img_path=osp.join(img_dir, sid + self.img_suffix),
                    seg_map_path=osp.join(ann_dir,
                                          sid + self.seg_map_suffix),
                    text=text,
                    ref_id=sid,
                    sent_id=len(samples),
                    img_id=sid))
        return samples
