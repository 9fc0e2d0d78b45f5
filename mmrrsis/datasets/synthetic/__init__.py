"""Synthetic referring remote sensing segmentation data (RefSegRS layout).

:func:`generate_synthetic_refseg` draws small aerial-looking scenes (textured
grass / soil / crop fields, sometimes a road, 3-5 objects of a few categories,
colours and two sizes, with shadows) and writes, for every chosen (image,
object) pair, an image file, a mask file and one referring sentence, in
exactly the RefSegRS layout read by
:class:`~mmrrsis.datasets.RefSegRSDataset`::

    out_dir/
    ├── images/<id>.tif              # RGB, 8 bit
    ├── masks/<id>.tif               # 8 bit, 0 background / 255 object
    ├── output_phrase_train.txt      # '<id> <sentence>' per line
    ├── output_phrase_val.txt
    └── output_phrase_test.txt

Layout choice: in RefSegRS an ``<id>`` names both the image and the mask, so
a scene that is described 2-3 times (each sentence naming a different object)
is written once per described object, with ids ``<scene>_<k>`` (``00012_0``,
``00012_1``, ...) whose image files have identical content and whose mask
files differ. Scenes are numbered across splits (train first, then val, then
test), so ids never collide and no scene is shared between splits.

Every sentence is built from a structured description (category + colour,
size, absolute position, extreme position or relation to an anchor object)
that is checked to match exactly one object of the scene under a tolerant
reading (objects near a region border or nearly tied count as matching), so
sentences stay unambiguous. Most scenes contain two objects of the same
category, and those are described first, so the sentence, not only the
category prior, is needed.

The output is deterministic for a given seed and arguments (byte-identical
files); nothing here runs at import.

Not loaded by ``import mmrrsis``: the generator is a data producer, not
a dataset (MMSegmentation keeps those in ``tools/dataset_converters``).
Import it explicitly: ``from mmrrsis.datasets.synthetic import
generate_synthetic_refseg``. Modules: :mod:`.scene` (renderer),
:mod:`.sentences` (grammar) and :mod:`.writer` (files).
"""
from .scene import (CATEGORY_SHAPES, COLOURS, DEFAULT_CATEGORIES,
                    DEFAULT_COLOURS, SynthObject, make_scene)
from .sentences import (DEFAULT_KIND_WEIGHTS, candidate_descs, render_sentence,
                        resolve)
from .writer import SPLITS, generate_synthetic_refseg

__all__ = [
    'generate_synthetic_refseg', 'SynthObject', 'resolve', 'make_scene',
    'candidate_descs', 'render_sentence', 'SPLITS', 'COLOURS',
    'CATEGORY_SHAPES', 'DEFAULT_CATEGORIES', 'DEFAULT_COLOURS',
    'DEFAULT_KIND_WEIGHTS'
]
