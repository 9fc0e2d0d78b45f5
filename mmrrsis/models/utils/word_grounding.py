"""The words grounded by BTDNet's BSC blocks, read by the next block and
the T-BTD head."""
from typing import Dict

from torch import Tensor

#: Key of the text dict under which BSC blocks pass the grounded words on.
GROUNDED_KEY = 'bsc_feats'
#: Key recording which ``feats`` tensor the grounded words were derived from
#: (so a stale entry from another forward pass is never read).
SOURCE_KEY = 'bsc_source'


def grounded_words(text: Dict[str, Tensor]) -> Tensor:
    """The word features the BSC blocks have grounded so far in this
    forward pass, or the text encoder's ``feats`` when there are none.

    Args:
        text (dict): The text encoder's output dict (``feats`` [B, L, Ct]),
            possibly carrying ``bsc_feats`` [B, L, Ct].

    Returns:
        Tensor: [B, L, Ct].
    """
    feats = text['feats']
    if GROUNDED_KEY in text and text.get(SOURCE_KEY) is feats:
        return text[GROUNDED_KEY]
    return feats
