"""RefSegRS (Yuan et al., 2024) referring remote sensing segmentation."""
from typing import Optional

from mmseg.registry import DATASETS

from .categories import CategoryWords
from .phrase_file import PhraseFileReferringDataset


@DATASETS.register_module()
class RefSegRSDataset(PhraseFileReferringDataset):
    """RefSegRS: one sample per line of ``output_phrase_{split}.txt``.

    On-disk layout, as released (HF ``JessicaYuan/RefSegRS``, RefSegRS.zip)
    and as the LGCE / FIANet loaders read it::

        data_root/
        ├── images/<id>.tif              # RGB image, 512x512
        ├── masks/<id>.tif               # mask of the referred object
        ├── output_phrase_train.txt      # '<id> <expression words...>'
        ├── output_phrase_val.txt
        └── output_phrase_test.txt

    Released counts: 2,172 / 431 / 1,817 expressions (train / val / test).
    Each line is split on its first whitespace into ``<id>`` and the
    expression. The id names both the image and the mask, so it is used as
    ``img_id`` and ``ref_id``; ``sent_id`` is the sample's position in the
    split. Foreground is ``mask value > 50`` (FIANet reads the mask with
    ``cv2.imread(path, 2)`` and thresholds at 50; applied by
    ``LoadReferringAnnotations``, whose default threshold is 50). Blank
    lines are skipped; a line with an id but no expression is an error
    (or skipped with ``skip_invalid=True``). Images are not opened while
    loading.

    Args:
        data_root (str): Root folder with the layout above.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        ann_file (str): Phrase file; defaults to
            ``output_phrase_{split}.txt``.
        img_suffix (str): Image suffix. Defaults to '.tif'.
        seg_map_suffix (str): Mask suffix. Defaults to '.tif'.
        data_prefix (dict): Image / mask folders. Defaults to
            ``dict(img_path='images', seg_map_path='masks')``.
        category_words (str | list | dict, optional): Class phrases the
            ``category`` of a sample is derived from (RefSegRS annotates
            none): the class its expression names first, among the 14
            RefSegRS classes of ``CLASS_WORDS['refsegrs']``
            (:class:`~mmrrsis.datasets.categories.CategoryMatcher`; None for
            no category). Derived, hence approximate. Defaults to
            ``'refsegrs'``.
        **kwargs: Other :class:`BaseReferringDataset` arguments
            (``pipeline``, ``test_mode``, ``indices``, ``check_files``,
            ``check_masks``, ``invalid_mask``, ``skip_invalid``, ...).

    Raises:
        FileNotFoundError: ``data_root``, ``images/``, ``masks/`` or the
            split's phrase file is missing (the message names the path and
            the split).
        ValueError: A line has an empty expression (the message gives the
            file, line number and id).
    """

    SPLITS = ('train', 'val', 'test')
    LAYOUT_NAME = 'RefSegRS'
    ID_IS_FILE_NAME = False
    MASK_THRESHOLD = 50

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = '',
                 img_suffix: str = '.tif',
                 seg_map_suffix: str = '.tif',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 category_words: Optional[CategoryWords] = 'refsegrs',
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            category_words=category_words,
            **kwargs)
