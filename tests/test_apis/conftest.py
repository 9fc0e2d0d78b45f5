"""Reuse the shared fixtures of ``tests/test_tools/conftest.py``.

``refseg_data`` (tiny synthetic set) and ``tiny_checkpoint`` (a 2-iteration
``tools/train.py`` checkpoint) are cached on disk per session, so whichever
directory runs first builds them and the other reuses them.
"""
import importlib.util
import os.path as osp
import sys

_TOOLS_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                      'test_tools')
if _TOOLS_DIR not in sys.path:
    sys.path.insert(0, _TOOLS_DIR)

_spec = importlib.util.spec_from_file_location(
    'mmrrsis_test_tools_conftest', osp.join(_TOOLS_DIR, 'conftest.py'))
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

refseg_data = _shared.refseg_data
tiny_checkpoint = _shared.tiny_checkpoint
