"""Build a flip test-time-augmentation pipeline from a test pipeline."""
import copy
from typing import List, Sequence

#: The flip transform of each mode: ``TextAwareRandomFlip`` swaps the
#: direction words with the image, MMSeg's ``RandomFlip`` does not (a
#: control: "the tank on the left" then names the other tank).
FLIP_TYPES = dict(text_aware='TextAwareRandomFlip', plain='RandomFlip')


def flip_tta_pipeline(test_pipeline: Sequence[dict],
                      directions: Sequence[str] = ('horizontal', ),
                      mode: str = 'text_aware') -> List[dict]:
    """The test pipeline with a flip ``TestTimeAug`` before its last step.

    The views are: the sample as the test pipeline gives it (a flip with
    ``prob=0``), then one view per direction (``prob=1``). The flip runs
    after every other step but the packing one (so the cleaned sentence is
    the one mirrored) and the packing step (``PackReferringInputs``) runs
    once per view. For the merge, see
    :class:`~mmrrsis.models.segmentors.ReferringTTAModel`.

    Args:
        test_pipeline (Sequence[dict]): The test pipeline; its last step
            packs the inputs.
        directions (Sequence[str]): Flip directions, one view each:
            'horizontal', 'vertical', 'diagonal'. Defaults to
            ('horizontal', ).
        mode (str): 'text_aware' (``TextAwareRandomFlip``: mirrored
            direction words) or 'plain' (MMSeg's ``RandomFlip``: the
            sentence unchanged). Defaults to 'text_aware'.

    Returns:
        list[dict]: The TTA pipeline (the given one is not changed).
    """
    if mode not in FLIP_TYPES:
        raise ValueError(f'mode must be one of {sorted(FLIP_TYPES)}, got '
                         f'{mode!r}')
    if not test_pipeline:
        raise ValueError('the test pipeline is empty')
    directions = list(directions)
    if not directions:
        raise ValueError('at least one flip direction is needed')
    steps = [copy.deepcopy(dict(t)) for t in test_pipeline]
    flip = FLIP_TYPES[mode]
    views = [dict(type=flip, prob=0., direction=directions[0])]
    views += [dict(type=flip, prob=1., direction=d) for d in directions]
    return steps[:-1] + [
        dict(type='TestTimeAug', transforms=[views, [steps[-1]]])
    ]
