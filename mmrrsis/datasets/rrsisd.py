"""RRSIS-D (Liu et al., RMSIN, CVPR 2024) in its released REFER layout."""
import json
import os.path as osp
import pickle
from typing import Dict, List, Optional

import mmengine.fileio as fileio
import numpy as np
from mmseg.registry import DATASETS

from .base_referring import BaseReferringDataset
from .coco_mask import CocoMask, segmentation_kind

SENTENCE_MODES = ('all', 'first', 'random')


@DATASETS.register_module()
class RRSISDDataset(BaseReferringDataset):
    """RRSIS-D: refs from ``refs(unc).p``, masks from ``instances.json``.

    On-disk layout, exactly as downloaded (RMSIN README; RMSIN's
    ``refer/data`` folder)::

        data_root/
        ├── rrsisd/
        │   ├── refs(unc).p        # pickled list of refs
        │   └── instances.json     # COCO style: images, annotations, ...
        └── images/rrsisd/
            ├── JPEGImages/NNNNN.jpg   # 800x800
            └── ann_split/NNNNN.xml    # not used

    A ref is a dict ``{ref_id, ann_id, image_id, split, sentences: [{raw,
    sent, sent_id, tokens}, ...], sent_ids, category_id, file_name}``. Its
    mask is ``instances.json``'s annotation ``ann_id``, whose
    ``segmentation`` is COCO polygons or RLE (RRSIS-D ships one compressed
    RLE per annotation, inside a list); the image is the ``images`` entry
    ``image_id`` (its ``file_name``, ``height``, ``width``) under
    ``images/rrsisd/JPEGImages``. This is what RMSIN's ``REFER`` reads
    (``refer/refer.py``). Released counts: 12,181 / 1,740 / 3,481 refs
    (train / val / test), one sentence each.

    Splits follow ``REFER.getRefIds``: 'train' and 'val' match a ref's
    ``split`` exactly, 'test' takes every ref whose split contains 'test'.
    Refs keep their file order.

    Sentences per ref (``sentences``; RRSIS-D has one per ref, so all three
    give the same samples on the release, they differ on multi-sentence
    sets such as RefCOCO in the same format):

    - ``'all'`` (default): one sample per (ref, sentence), the issue's
      "one sample per (image, expression, mask)". This is also the RMSIN /
      LAVT *test* protocol (``test.py`` scores every sentence of each ref).
    - ``'first'``: one sample per ref, its first sentence.
    - ``'random'``: one sample per ref; the sentence is drawn anew each
      time the sample is fetched (``get_data_info``). This is the RMSIN /
      LAVT *training* protocol (``np.random.choice`` per ``__getitem__``);
      do not use it for evaluation.

    The text is the sentence's ``raw`` field (what RMSIN tokenises), or its
    ``sent`` field when ``raw`` is missing or blank (``text_key``).

    Masks are not decoded at load time. Every sample carries
    ``gt_mask=CocoMask(...)``, which ``LoadReferringAnnotations`` decodes
    (pycocotools) in the pipeline. With ``check_masks=True`` (the default
    here, it is cheap: areas come from the RLE without decoding) empty and
    all-foreground masks are reported by ref id (``invalid_mask``).

    Bad input, per case:

    - missing ``refs(unc).p`` / ``instances.json`` / image folder:
      ``FileNotFoundError`` naming the path and the split;
    - a ref without a usable sentence, whose ``ann_id`` or ``image_id`` is
      not in ``instances.json``, or whose ``segmentation`` is neither
      polygons nor RLE: rejected with its ref id (``ValueError`` listing
      all of them, or dropped with a warning when ``skip_invalid=True``);
    - with ``check_files=True``: a ref whose image file is missing is
      dropped with one warning listing ref ids and paths (the release
      misses a few images: Lsan2401/RMSIN#1; RSRefSeg2 skips three).

    Extra data info keys: ``ann_id``, ``category_id``, ``category`` (the
    name ``instances.json``'s ``categories`` give ``category_id``, e.g.
    ``'airplane'``; the id as a string when it has no entry there; used by
    ``RefSegMetric`` for per-category IoU), ``gt_mask``
    (:class:`~mmrrsis.datasets.coco_mask.CocoMask`), and with
    ``sentences='random'`` ``sentences`` (list of ``(sent_id, text)``).

    Args:
        data_root (str): Root folder with the layout above.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        ann_file (str): COCO annotation file. Defaults to
            'rrsisd/instances.json'.
        refs_file (str): Pickled refs, relative to ``data_root`` unless
            absolute. Defaults to 'rrsisd/refs(unc).p'.
        data_prefix (dict): Image folder. Defaults to
            ``dict(img_path='images/rrsisd/JPEGImages')``.
        sentences (str): 'all', 'first' or 'random' (see above).
            Defaults to 'all'.
        text_key (str): Sentence field used as the text. Defaults to 'raw'.
        check_masks (bool): Report empty / all-foreground masks at load.
            Defaults to True.
        **kwargs: Other :class:`BaseReferringDataset` arguments.
    """

    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = 'rrsisd/instances.json',
                 refs_file: str = 'rrsisd/refs(unc).p',
                 data_prefix: dict = dict(img_path='images/rrsisd/JPEGImages'),
                 sentences: str = 'all',
                 text_key: str = 'raw',
                 check_masks: bool = True,
                 **kwargs) -> None:
        if sentences not in SENTENCE_MODES:
            raise ValueError(f'RRSISDDataset: sentences must be one of '
                             f'{SENTENCE_MODES}, got {sentences!r}')
        self.sentences = sentences
        self.text_key = text_key
        self.refs_file = refs_file
        if data_root is not None and not osp.isabs(refs_file):
            self.refs_file = osp.join(data_root, refs_file)
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file=ann_file,
            data_prefix=data_prefix,
            check_masks=check_masks,
            **kwargs)

    def expected_layout(self) -> Dict[str, str]:
        """The refs pickle, the COCO json and the image folder."""
        return {
            self.refs_file: f"the RRSIS-D refs of split '{self.split}' "
            '(pickled list of refs)',
            self.ann_file: 'the RRSIS-D COCO annotations (images, '
            'annotations with the masks)',
            self.data_prefix['img_path'] + '/':
            'the RRSIS-D image folder (JPEGImages/<file_name>)',
        }

    # ----------------------------------------------------------- reading
    def _read_refs(self) -> list:
        content = fileio.get(self.refs_file, backend_args=self.backend_args)
        try:
            try:
                refs = pickle.loads(content)
            except UnicodeDecodeError:  # written by Python 2
                refs = pickle.loads(content, encoding='latin1')
        except Exception as err:  # noqa: BLE001 - report which file
            raise ValueError(f'RRSISDDataset: cannot unpickle the refs file '
                             f'{self.refs_file}: {err}') from err
        if not isinstance(refs, list) or not all(
                isinstance(r, dict) for r in refs):
            raise ValueError(f'RRSISDDataset: {self.refs_file} should hold a '
                             f'list of ref dicts, got {type(refs).__name__}')
        return refs

    def _read_instances(self) -> dict:
        try:
            inst = json.loads(
                fileio.get_text(self.ann_file, backend_args=self.backend_args))
        except json.JSONDecodeError as err:
            raise ValueError(f'RRSISDDataset: {self.ann_file} is not valid '
                             f'JSON: {err}') from err
        missing = [k for k in ('images', 'annotations') if k not in inst]
        if missing:
            raise ValueError(f'RRSISDDataset: {self.ann_file} lacks the COCO '
                             f'keys {missing}')
        return inst

    def _in_split(self, ref_split: str) -> bool:
        if self.split == 'test':
            return 'test' in str(ref_split)
        return ref_split == self.split

    def _texts(self, ref: dict) -> List[tuple]:
        """``(sent_id, text)`` of the ref's non-blank sentences."""
        out = []
        sent_ids = ref.get('sent_ids') or []
        for i, sent in enumerate(ref.get('sentences') or []):
            if isinstance(sent, str):
                text, sid = sent, None
            elif isinstance(sent, dict):
                text = sent.get(self.text_key) or sent.get('sent') or ''
                sid = sent.get('sent_id')
            else:
                continue
            text = str(text).strip()
            if not text:
                continue
            if sid is None:
                sid = sent_ids[i] if i < len(sent_ids) else (
                    f"{ref.get('ref_id')}_{i}")
            out.append((sid, text))
        return out

    def load_samples(self) -> List[dict]:
        """One data info per (ref, sentence) of the split (see
        ``sentences``), in the refs file's order."""
        refs = self._read_refs()
        inst = self._read_instances()
        images = {img['id']: img for img in inst['images']}
        cat_names = {c.get('id'): c.get('name')
                     for c in inst.get('categories') or []
                     if isinstance(c, dict)}
        anns = {ann['id']: ann for ann in inst['annotations']}
        img_dir = self.data_prefix['img_path']
        samples = []
        for ref in refs:
            if not self._in_split(ref.get('split')):
                continue
            ref_id = ref.get('ref_id')
            ann = anns.get(ref.get('ann_id'))
            if ann is None:
                self.reject(ref_id, f"annotation id {ref.get('ann_id')!r} "
                            f'is not in {self.ann_file}')
                continue
            image_id = ref.get('image_id', ann.get('image_id'))
            img = images.get(image_id)
            if img is None:
                self.reject(ref_id, f'image id {image_id!r} is not in the '
                            f"'images' of {self.ann_file}")
                continue
            segm = ann.get('segmentation')
            if segmentation_kind(segm) is None:
                self.reject(ref_id, f"annotation {ann.get('id')!r} has no "
                            'polygon or RLE segmentation')
                continue
            texts = self._texts(ref)
            if not texts:
                self.reject(ref_id, 'no sentence (empty or missing '
                            "'sentences')")
                continue
            file_name = img.get('file_name') or ref.get('file_name')
            height, width = img.get('height'), img.get('width')
            if not (height and width) and segmentation_kind(segm) != (
                    'polygon'):  # the RLE knows the size
                first = segm if isinstance(segm, dict) else segm[0]
                height, width = first['size']
            if not (height and width):
                self.reject(ref_id, f'image {image_id!r} has no height / '
                            'width for its polygon mask')
                continue
            mask = CocoMask(segm, height, width)
            category_id = ref.get('category_id',
                                  ann.get('category_id',
                                          ann.get('categories_id')))
            common = dict(
                img_path=osp.join(img_dir, file_name),
                seg_map_path=None,
                ref_id=ref_id,
                img_id=image_id,
                ann_id=ann.get('id'),
                category_id=category_id,
                category=(None if category_id is None else str(
                    cat_names.get(category_id) or category_id)),
                gt_mask=mask)
            if self.sentences == 'first':
                texts = texts[:1]
            if self.sentences == 'random':
                samples.append(
                    self.make_data_info(
                        text=texts[0][1], sent_id=texts[0][0],
                        sentences=texts, **common))
                continue
            for sent_id, text in texts:
                samples.append(
                    self.make_data_info(text=text, sent_id=sent_id,
                                        **common))
        return samples

    def get_data_info(self, idx: int) -> dict:
        """The data info; with ``sentences='random'`` a fresh random
        sentence of the ref (NumPy's global generator, which MMEngine seeds
        per worker)."""
        info = super().get_data_info(idx)
        choices: Optional[list] = info.get('sentences')
        if self.sentences == 'random' and choices and len(choices) > 1:
            sent_id, text = choices[np.random.randint(len(choices))]
            info['sent_id'], info['text'] = sent_id, text
        return info
