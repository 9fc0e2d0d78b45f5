"""RandomOcclusionBoxes: the RMSIN / FIANet RRSIS-D training occlusion."""
import numpy as np
import pytest
from mmengine.config import Config

from mmrrsis.datasets.transforms import RandomOcclusionBoxes


def test_fixed_subset_of_references():
    t = RandomOcclusionBoxes(ratio=0.2)
    chosen = [t.is_chosen(i) for i in range(20000)]
    assert 0.19 < np.mean(chosen) < 0.21
    # the same references every time, in every worker
    assert chosen == [RandomOcclusionBoxes(ratio=0.2).is_chosen(i)
                      for i in range(20000)]
    # another seed picks another subset
    other = [RandomOcclusionBoxes(ratio=0.2, seed=1).is_chosen(i)
             for i in range(20000)]
    assert chosen != other


def test_boxes_on_chosen_reference_only_and_input_untouched():
    t = RandomOcclusionBoxes(ratio=0.2)
    ids = list(range(200))
    on = next(i for i in ids if t.is_chosen(i))
    off = next(i for i in ids if not t.is_chosen(i))
    img = np.full((800, 800, 3), 200, np.uint8)
    np.random.seed(0)
    out = t(dict(img=img, ref_id=on))
    assert out['occluded'] and (img == 200).all()  # a new array
    black = (out['img'] == 0).all(-1)
    # between one box (overlaps) and 60 full boxes of 32x32
    assert 32 * 32 <= black.sum() <= 60 * 32 * 32
    # every black pixel lies in some 32x32 all-black square
    ys, xs = np.nonzero(black)
    assert ys.max() < 800 and xs.max() < 800
    untouched = t(dict(img=img, ref_id=off))
    assert not untouched['occluded']
    assert (untouched['img'] == 200).all()


@pytest.mark.parametrize('ratio', [0.0])
def test_ratio_zero_switches_it_off(ratio):
    t = RandomOcclusionBoxes(ratio=ratio)
    img = np.full((64, 64, 3), 9, np.uint8)
    assert all((t(dict(img=img, ref_id=i))['img'] == 9).all()
               for i in range(50))


def test_rrsisd_configs_train_with_it_and_test_without():
    cfg = Config.fromfile('configs/fianet/fianet_swinb_rrsisd.py')
    train = [s.type for s in cfg.train_dataloader.dataset.pipeline]
    assert train[:2] == ['LoadRSImageFromFile', 'RandomOcclusionBoxes']
    for split in ('val_dataloader', 'test_dataloader'):
        types = [s.type for s in cfg[split].dataset.pipeline]
        assert 'RandomOcclusionBoxes' not in types


def test_bad_arguments():
    with pytest.raises(ValueError):
        RandomOcclusionBoxes(ratio=1.5)
    with pytest.raises(ValueError):
        RandomOcclusionBoxes(min_boxes=5, max_boxes=2)
