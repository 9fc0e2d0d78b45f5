"""Each sample's category: RRSIS-D's annotation, RefSegRS's and RISBench's
derived from the expression; carried through the pipeline to the metric."""
import os.path as osp

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import DATASETS
from released_utils import DATA, base_config, fixture_spec

from mmrrsis.datasets import RefSegRSDataset, RISBenchDataset, RRSISDDataset
from mmrrsis.datasets.categories import RISBENCH_CATEGORIES, CategoryMatcher
from mmrrsis.evaluation import RefSegMetric, resize_label_nearest

SPEC = fixture_spec()


# ------------------------------------------------------------ matcher
@pytest.mark.parametrize('text, expected', [
    ('the airplane parked at the top left', 'airplane'),
    ('a white ship docked at the harbor on the right side', 'ship'),
    ('the harbor next to the white ship', 'harbor'),  # first named wins
    ('The two Storage-Tanks in the middle', 'storage tank'),
    ('small vehicles near the bridge', 'vehicle'),
    ('a plane at the airport', 'airplane'),  # synonym
    ('the soccer field', 'soccer ball field'),
    ('the large soccer ball field', 'soccer ball field'),
    ('the gray building on the left', None),  # no RISBench class
    ('', None),
])
def test_risbench_matcher(text, expected):
    assert CategoryMatcher('risbench')(text) == expected


def test_refsegrs_matcher_longest_phrase_and_plural():
    match = CategoryMatcher('refsegrs')
    assert match('the road marking') == 'road marking'  # not 'road'
    assert match('road next to the road marking') == 'road'
    assert match('trees along the sidewalk') == 'tree'
    assert match('two buses') == 'bus'
    assert match('low vegetation') == 'low vegetation'


def test_matcher_inputs():
    assert len(RISBENCH_CATEGORIES) == 26  # CroBIM's 26 classes
    assert CategoryMatcher(['red car', 'car'])('the red cars') == 'red car'
    assert CategoryMatcher({'boat': ['ship', 'boat']})('ships') == 'boat'
    with pytest.raises(KeyError, match='risbench'):
        CategoryMatcher('coco')


# ------------------------------------------------------------ datasets
def test_rrsisd_category_from_instances_json():
    for split in ('train', 'val', 'test'):
        ds = RRSISDDataset(osp.join(DATA, 'rrsisd'), split=split)
        expected = {
            ref[0]: SPEC.RRSISD_CATEGORIES[i % len(SPEC.RRSISD_CATEGORIES)]
            for i, ref in enumerate(SPEC.RRSISD_REFS)
        }
        for info in ds:
            assert info['category'] == expected[info['ref_id']]
            assert info['category_id'] == SPEC.RRSISD_CATEGORIES.index(
                info['category'])


@pytest.mark.parametrize('cls, name, expected', [
    (RISBenchDataset, 'risbench', {
        'train': ['airplane', 'storage tank', 'ship', 'soccer ball field'],
        'val': ['helipad', 'vehicle'],
        'test': ['storage tank', 'chimney'],
    }),
    (RefSegRSDataset, 'refsegrs', {
        'train': ['van', 'vehicle', 'low vegetation', 'car'],
        'val': ['road marking', 'tree'],
        'test': ['truck', 'bikeway'],
    }),
])
def test_phrase_file_category_derived(cls, name, expected):
    for split, cats in expected.items():
        ds = cls(osp.join(DATA, name), split=split)
        assert [i['category'] for i in ds] == cats
    off = cls(osp.join(DATA, name), split='test', category_words=None)
    assert [i['category'] for i in off] == [None, None]
    own = cls(osp.join(DATA, name), split='test',
              category_words={'thing': ['truck', 'tank']})
    assert [i['category'] for i in own][0] == 'thing'


@pytest.mark.parametrize('name', ['rrsisd', 'risbench', 'refsegrs'])
def test_category_reaches_the_metric(name):
    """The config's test pipeline packs the category; RefSegMetric groups
    by it (perfect predictions: every category scores 100)."""
    cfg = base_config(name)
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.data_root = osp.join(DATA, name)
    ds = DATASETS.build(ds_cfg)
    metric = RefSegMetric(eval_resolution='input', empty_union_iou=1.0)
    cats = []
    for idx in range(len(ds)):
        sample = ds[idx]['data_samples']
        cats.append(sample.metainfo['category'])
        gt = sample.gt_sem_seg.data
        pred = torch.from_numpy(
            resize_label_nearest(gt, sample.img_shape).astype('int64'))
        sample.pred_sem_seg_input = PixelData(data=pred[None])
        metric.process({}, [sample.to_dict()])
    assert cats == [ds.get_data_info(i)['category'] for i in range(len(ds))]
    assert all(cats)
    by_cat = metric.breakdown(metric.results)['by_category']
    assert sorted(by_cat) == sorted(set(cats))
    for figs in by_cat.values():
        assert figs['mIoU'] == pytest.approx(100.0)
    assert sum(f['count'] for f in by_cat.values()) == len(ds)
