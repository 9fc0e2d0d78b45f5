"""Datasets described by ``output_phrase_{split}.txt`` files (RefSegRS,
RISBench)."""
import os.path as osp
from typing import Dict, List, Tuple

import mmengine.fileio as fileio

from .base_referring import BaseReferringDataset


class PhraseFileReferringDataset(BaseReferringDataset):
    """One sample per line ``<id> <expression words...>`` of a phrase file.

    The layout shared by RefSegRS and RISBench: an image folder, a mask
    folder holding one mask per image under the same name, and one phrase
    file per split. Each line is split on its first whitespace into the
    id and the expression (the rest of the line, trimmed). Blank lines and a
    UTF-8 byte order mark are skipped. Images and masks are not opened.

    How the id names the files is set by :attr:`ID_IS_FILE_NAME`:

    - False (RefSegRS): the id is a stem, the files are
      ``<id><img_suffix>`` / ``<id><seg_map_suffix>``; ``ref_id`` and
      ``img_id`` are the id;
    - True (RISBench): the id is the file name itself (with its
      extension), used unchanged in both folders; ``ref_id`` and ``img_id``
      are the name without its extension.

    ``sent_id`` is the sample's position among the split's expressions.
    A line with an id but no expression is passed to :meth:`reject` with
    the file, line number and id (an error unless ``skip_invalid``).

    Not registered; see :class:`RefSegRSDataset` and
    :class:`RISBenchDataset`. Arguments are those of
    :class:`BaseReferringDataset`; ``ann_file`` defaults to
    ``output_phrase_{split}.txt``.
    """

    #: Name used in layout messages.
    LAYOUT_NAME: str = 'phrase-file'
    #: Whether the first token of a line is a file name (see above).
    ID_IS_FILE_NAME: bool = False

    def __init__(self, data_root: str, split: str = 'train',
                 ann_file: str = '', **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            split=split,
            ann_file=ann_file or f'output_phrase_{split}.txt',
            **kwargs)

    def _file_pattern(self, suffix: str) -> str:
        return '<file>' if self.ID_IS_FILE_NAME else f'<id>{suffix}'

    def expected_layout(self) -> Dict[str, str]:
        """The image and mask folders and the split's phrase file."""
        first = '<file>' if self.ID_IS_FILE_NAME else '<id>'
        return {
            self.data_prefix['img_path'] + '/':
            f'the {self.LAYOUT_NAME} image folder '
            f'({self._file_pattern(self.img_suffix)})',
            self.data_prefix['seg_map_path'] + '/':
            f'the {self.LAYOUT_NAME} mask folder '
            f'({self._file_pattern(self.seg_map_suffix)})',
            self.ann_file:
            f"the phrase file of split '{self.split}' (lines '{first} "
            "<expression>')",
        }

    def read_phrases(self) -> List[Tuple[int, str, str]]:
        """Parse the phrase file.

        Returns:
            list[tuple]: ``(line number, id, expression)`` per non-blank
            line, in file order; the expression may be empty.
        """
        try:
            content = fileio.get_text(
                self.ann_file, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'{self.__class__.__name__}: phrase file of split '
                f"'{self.split}' not found: {self.ann_file}") from err
        rows = []
        for lineno, line in enumerate(content.splitlines(), start=1):
            line = line.lstrip('\ufeff').strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            rows.append((lineno, parts[0],
                         parts[1].strip() if len(parts) > 1 else ''))
        return rows

    def load_samples(self) -> List[dict]:
        """One data info per line of the split's phrase file."""
        img_dir = self.data_prefix['img_path']
        ann_dir = self.data_prefix['seg_map_path']
        samples = []
        for lineno, sid, text in self.read_phrases():
            if self.ID_IS_FILE_NAME:
                img_name = mask_name = sid
                ref_id = osp.splitext(sid)[0]
            else:
                img_name = sid + self.img_suffix
                mask_name = sid + self.seg_map_suffix
                ref_id = sid
            if not text:
                self.reject(ref_id, f'empty expression for id {sid!r} at '
                            f'line {lineno} of {self.ann_file}')
                continue
            samples.append(
                self.make_data_info(
                    img_path=osp.join(img_dir, img_name),
                    seg_map_path=osp.join(ann_dir, mask_name),
                    text=text,
                    ref_id=ref_id,
                    sent_id=len(samples),
                    img_id=ref_id))
        return samples
