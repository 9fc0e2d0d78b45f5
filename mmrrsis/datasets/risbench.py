"""RISBench (Dong et al., CroBIM, arXiv 2410.08613)."""
from typing import Optional

from mmseg.registry import DATASETS

from .categories import CategoryWords
from .phrase_file import PhraseFileReferringDataset


@DATASETS.register_module()
class RISBenchDataset(PhraseFileReferringDataset):
    """RISBench: one sample per line of ``output_phrase_{split}.txt``.

    On-disk layout as released (CroBIM README, Baidu Netdisk; the folder is
    called ``RISBench_dataset``) and as third-party loaders and RSRefSeg2's
    converter read it::

        data_root/
        ├── img_rgb/<file>               # RGB image, 512x512 (e.g. .png)
        ├── mask/<file>                  # mask, same file name, 0 / 255
        ├── output_phrase_train.txt      # '<file> <expression words...>'
        ├── output_phrase_val.txt
        └── output_phrase_test.txt

    Reported counts: 26,300 / 10,013 / 16,158 expressions (train / val /
    test; one public evaluation script counts 16,159 test lines). The first
    token of a line is the image file name *with* its extension; the same
    name is used in ``mask/``. Val lines may name ``train_*`` files (val
    images come from the train image pool), so nothing is assumed from the
    prefix. ``ref_id`` and ``img_id`` are the file name without extension
    (one file per referred object), ``sent_id`` the line's position.

    Foreground is ``mask value > 0`` (the masks are binary 0/255; the
    loaders above test ``> 0``): use ``LoadReferringAnnotations(threshold=0)``
    in pipelines, as ``configs/_base_/datasets/risbench.py`` does.

    Some released test masks are empty (noted by the TopoVG README). They
    are kept (so split counts match the paper) and scored by
    ``RefSegMetric``'s ``empty_union_iou`` rule, set in the dataset
    config; ``check_masks=True`` lists them at load by ref id (it reads every
    mask, about 0.5 ms each).

    Args:
        data_root (str): Root folder with the layout above.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        ann_file (str): Phrase file; defaults to
            ``output_phrase_{split}.txt``.
        img_suffix (str): Appended to the file name of a line; '' (the
            name already has its extension). Defaults to ''.
        seg_map_suffix (str): Same for masks. Defaults to ''.
        data_prefix (dict): Image / mask folders. Defaults to
            ``dict(img_path='img_rgb', seg_map_path='mask')``.
        category_words (str | list | dict, optional): Class phrases the
            ``category`` of a sample is derived from (the release has no
            category field and its file names carry none): the class its
            expression names first, among RISBench's 26 classes and their
            common synonyms (:data:`~mmrrsis.datasets.categories.
            RISBENCH_CATEGORIES`; None for no category). Derived, hence
            approximate. Defaults to ``'risbench'``.
        **kwargs: Other :class:`BaseReferringDataset` arguments.
    """

    SPLITS = ('train', 'val', 'test')
    LAYOUT_NAME = 'RISBench'
    ID_IS_FILE_NAME = True
    MASK_THRESHOLD = 0

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = '',
                 img_suffix: str = '',
                 seg_map_suffix: str = '',
                 data_prefix: dict = dict(
                     img_path='img_rgb', seg_map_path='mask'),
                 category_words: Optional[CategoryWords] = 'risbench',
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
