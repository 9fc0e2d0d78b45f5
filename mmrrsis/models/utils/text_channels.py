"""One rule for the width of the words a module reads."""
import copy
import inspect

from mmseg.registry import MODELS


def takes_text_channels(module_type) -> bool:
    """Whether the constructor of ``module_type`` (a registered name or a
    class) has a ``text_channels`` argument. Unknown names: False."""
    cls = MODELS.get(module_type) if isinstance(module_type,
                                                str) else module_type
    if cls is None:
        return False
    try:
        return 'text_channels' in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def fill_text_channels(cfg, text_channels: int):
    """A copy of the module config ``cfg`` whose ``text_channels`` is the
    text encoder's width, unless the config sets a number.

    The rule, for fusion blocks, necks and heads alike: a module whose
    constructor takes ``text_channels`` reads the text encoder's words, so
    an absent or ``None`` ``text_channels`` becomes ``text_channels``; a
    number in the config is kept; a module that takes no such argument is
    left as it is (MMSeg's own necks and heads).

    Args:
        cfg (dict | ConfigDict | None): Module config with ``type``.
        text_channels (int): The text encoder's ``out_channels``.

    Returns:
        The new config (``None`` for ``None``).
    """
    if cfg is None:
        return None
    cfg = copy.deepcopy(cfg)
    if cfg.get('text_channels') is not None:
        return cfg
    if 'text_channels' in cfg or takes_text_channels(cfg.get('type')):
        cfg['text_channels'] = text_channels
    return cfg
