"""Shared fixtures: a tiny synthetic RefSegRS-layout set, generated once."""
import pytest
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401  (applies the compat shims, registers modules)
from mmrrsis.datasets.synthetic import generate_synthetic_refseg

TINY_COUNTS = dict(train=6, val=3, test=3)


@pytest.fixture(scope='session')
def tiny_set(tmp_path_factory):
    """(root, summary) of a 12-scene synthetic set at 64 px."""
    root = tmp_path_factory.mktemp('tiny_refseg')
    summary = generate_synthetic_refseg(
        str(root), num_images=TINY_COUNTS, img_size=64, seed=3,
        overwrite=True)
    return root, summary


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Build transforms from MMSeg's registry, as MMSeg configs do."""
    init_default_scope('mmseg')
