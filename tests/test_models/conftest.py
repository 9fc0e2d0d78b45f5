"""Model tests: compat shims applied, MMSeg default scope."""
import pytest
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401  (applies the compat shims, registers modules)


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')
