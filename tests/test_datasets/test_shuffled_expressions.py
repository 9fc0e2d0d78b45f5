import pytest
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401
from mmrrsis.datasets.synthetic import generate_synthetic_refseg


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shuf'))
    generate_synthetic_refseg(
        root, num_images=dict(train=2, val=2, test=8), img_size=64, seed=3)
    return root


def test_every_sample_gets_another_images_sentence(data_root):
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    base = dict(type='RefSegRSDataset', data_root=data_root, split='test')
    ds = DATASETS.build(base)
    shuf = DATASETS.build(
        dict(type='ShuffledExpressionDataset', dataset=base, seed=0))
    assert len(shuf) == len(ds)
    texts = [ds.get_data_info(i)['text'] for i in range(len(ds))]
    new = [shuf.get_data_info(i)['text'] for i in range(len(ds))]
    assert sorted(texts) == sorted(new)  # a permutation
    # never its own sentence, never one of the same image file
    assert all(a != b for a, b in zip(texts, new))
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    src = [texts.index(t) for t in new]
    assert all(paths[i] != paths[j] for i, j in enumerate(src))
    # images and masks are untouched
    assert shuf.get_data_info(0)['seg_map_path'] == \
        ds.get_data_info(0)['seg_map_path']
    # deterministic
    again = DATASETS.build(
        dict(type='ShuffledExpressionDataset', dataset=base, seed=0))
    assert [again.get_data_info(i)['text'] for i in range(len(ds))] == new
