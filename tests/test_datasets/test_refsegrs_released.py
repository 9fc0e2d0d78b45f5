"""RefSegRSDataset on the released layout (.tif images and soft masks)."""
import os.path as osp

import cv2
import numpy as np
import pytest
from released_utils import DATA, base_config, fixture_spec, run_pipeline

from mmrrsis.datasets import RefSegRSDataset

ROOT = osp.join(DATA, 'refsegrs')
SPEC = fixture_spec()


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_loads_released_layout(split):
    ds = RefSegRSDataset(ROOT, split=split, check_files=True,
                         check_masks=True)
    lines = [x for x in SPEC.REFSEGRS_LINES if x[0] == split]
    assert [(i['ref_id'], i['text']) for i in ds] == [
        (x[1], x[2]) for x in lines]
    assert ds.load_report == {}


def test_soft_mask_edges_are_cut_at_50():
    cfg = base_config('refsegrs')
    ds = RefSegRSDataset(ROOT, split='train')
    info = ds.get_data_info(0)
    raw = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    assert set(np.unique(raw).tolist()) == {0, 30, 255}  # halo at 30
    out = run_pipeline(cfg.test_pipeline, info)
    assert tuple(out['inputs'].shape) == (3, 480, 480)
    gt = out['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, SPEC.refsegrs_expected_mask('4213'))
    # a threshold of 0 would take the halo too: the config must keep 50
    assert cfg.mask_threshold == 50
