"""Normalise the referring expression string."""
import re
import unicodedata

from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

_WHITESPACE = re.compile(r'\s+')


def clean_text(text: str, lowercase: bool = False) -> str:
    """Normalise one expression.

    Steps: Unicode NFKC normalisation; every whitespace character (tabs,
    newlines, no-break spaces, ...) becomes a space; remaining control and
    format characters (Unicode categories Cc, Cf, e.g. zero-width spaces, BOM)
    are removed; runs of spaces collapse to one; leading and trailing spaces
    are stripped; optionally lowercased.

    Args:
        text (str): Raw expression.
        lowercase (bool): Lowercase the result. Defaults to False.

    Returns:
        str: The cleaned expression (may be empty).
    """
    text = unicodedata.normalize('NFKC', str(text))
    text = _WHITESPACE.sub(' ', text)
    text = ''.join(ch for ch in text
                   if unicodedata.category(ch) not in ('Cc', 'Cf'))
    text = _WHITESPACE.sub(' ', text).strip()
    if lowercase:
        text = text.lower()
    return text


@TRANSFORMS.register_module()
class CleanExpression(BaseTransform):
    """Clean ``results['text']``: NFKC, whitespace, control characters.

    See :func:`clean_text` for the exact steps. Case is kept by default
    because the text encoder's tokenizer decides how to treat it.

    Required Keys:

    - text

    Modified Keys:

    - text

    Args:
        lowercase (bool): Lowercase the expression. Defaults to False.

    Raises:
        ValueError: The expression is empty after cleaning; the message names
            the sample (``sample_idx``, ``ref_id``, ``img_path``).
    """

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def transform(self, results: dict) -> dict:
        """Clean the expression in place.

        Args:
            results (dict): Data info with ``text``.

        Returns:
            dict: ``results`` with the cleaned ``text``.
        """
        raw = results.get('text')
        cleaned = clean_text(raw, self.lowercase) if raw is not None else ''
        if not cleaned:
            raise ValueError(
                f'{self.__class__.__name__}: empty referring expression '
                f"(raw {raw!r}) for sample_idx={results.get('sample_idx')!r}, "
                f"ref_id={results.get('ref_id')!r}, "
                f"img_path={results.get('img_path')!r}")
        results['text'] = cleaned
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(lowercase={self.lowercase})'
