"""Model tests: compat shims applied, MMSeg default scope.

The tests mirror ``mmrrsis/models/`` (``test_fusion/``, ``test_necks/``,
``test_decode_heads/``, ...); the helper modules shared by them stay here
(``model_test_utils``, ``crobim_test_utils``, ``equivalence_utils``), and
this folder is put on ``sys.path`` so every subfolder imports them by name.
"""
import os.path as osp
import sys

import pytest
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401  (applies the compat shims, registers modules)

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')
