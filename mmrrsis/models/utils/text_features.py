"""The encoded expression: one immutable record from the text encoder on."""
import dataclasses
from typing import Any, Dict, Iterator, List, Optional, Tuple

from torch import Tensor


@dataclasses.dataclass(frozen=True, eq=False)
class TextFeatures:
    """What the text encoder returns and the language side passes on.

    A frozen record: a module that refines the language (BTDNet's BSC
    grounding the words, CroBIM's CAPM appending prompts) returns a new
    record with :meth:`replace` and never writes into the one it got, so
    every module sees exactly what the modules before it produced and
    nothing a later one changed. The segmentor threads it one way:
    text encoder -> fusion blocks (stage by stage) -> text-aware neck ->
    heads (``inputs['text']``).

    Read access as a dict (``text['feats']``, ``'object_mask' in text``,
    ``text.get('grounded')``, ``text.keys()``) is kept for code written for
    the former dict; unset optional fields read as absent. Internal code
    uses the attributes.

    A new model that carries another field adds it by subclassing
    (``@dataclasses.dataclass(frozen=True, eq=False)``) and returning its
    subclass from its text encoder or fusion block.

    Fields (B sentences, L tokens, Ct channels):
        feats (Tensor): Word features [B, L, Ct] (after CAPM: words and
            prompts [B, L + K, Ct]).
        mask (Tensor): [B, L], 1 for real tokens (long).
        pooled (Tensor, optional): Sentence vector [B, Ct].
        input_ids (Tensor, optional): Token ids [B, L] (D-MOLS erases them).
        object_feats, spatial_feats (Tensor, optional): FIANet's ground-object
            and spatial-position texts [B, L, Ct] (``SplitTextEncoder``).
        object_mask, spatial_mask (Tensor, optional): Their token masks
            [B, L].
        grounded (Tensor, optional): Word features grounded in the image by
            BTDNet's BSC blocks [B, L, Ct]; later blocks and the T-BTD head
            read :attr:`words`.
        plain_feats, plain_mask (Tensor, optional): The words before CAPM's
            prompt modulation.
        prompt_feats (Tensor, optional): CAPM's modulated prompts
            [B, K, Ct].
    """

    feats: Tensor
    mask: Tensor
    pooled: Optional[Tensor] = None
    input_ids: Optional[Tensor] = None
    object_feats: Optional[Tensor] = None
    object_mask: Optional[Tensor] = None
    spatial_feats: Optional[Tensor] = None
    spatial_mask: Optional[Tensor] = None
    grounded: Optional[Tensor] = None
    plain_feats: Optional[Tensor] = None
    plain_mask: Optional[Tensor] = None
    prompt_feats: Optional[Tensor] = None

    def __post_init__(self) -> None:
        if tuple(self.mask.shape) != tuple(self.feats.shape[:2]):
            raise ValueError(
                f'TextFeatures: mask {tuple(self.mask.shape)} does not match '
                f'feats {tuple(self.feats.shape)} ([B, L] vs [B, L, Ct])')
        if self.grounded is not None and \
                self.grounded.shape != self.feats.shape:
            raise ValueError(
                f'TextFeatures: grounded {tuple(self.grounded.shape)} does '
                f'not match feats {tuple(self.feats.shape)}')

    # ------------------------------------------------------------ the flow
    @property
    def words(self) -> Tensor:
        """The word features to read [B, L, Ct]: the grounded words when a
        BSC block grounded them, else :attr:`feats`."""
        return self.feats if self.grounded is None else self.grounded

    def replace(self, **changes) -> 'TextFeatures':
        """A new record with ``changes`` (this one is left as it is)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, values: Dict[str, Tensor]) -> 'TextFeatures':
        """A record from a dict of its fields (a text encoder's output)."""
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise KeyError(
                f'{cls.__name__} has no field {unknown}; its fields: '
                f'{cls.field_names()}. Subclass it to carry new fields.')
        return cls(**values)

    def to_dict(self) -> Dict[str, Tensor]:
        """The set fields as a new dict."""
        return {k: getattr(self, k) for k in self.keys()}

    # ------------------------------------------- read access as a dict
    def keys(self) -> List[str]:
        """Names of the fields that are set (not None)."""
        return [k for k in self.field_names() if getattr(self, k) is not None]

    def items(self) -> List[Tuple[str, Tensor]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.field_names() and \
            getattr(self, key) is not None

    def __getitem__(self, key: str) -> Tensor:
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __repr__(self) -> str:
        shapes = ', '.join(f'{k}={tuple(v.shape)}' for k, v in self.items())
        return f'{type(self).__name__}({shapes})'
