"""Model selection on val (default) or on test (``--select-on test``)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import mmrrsis  # noqa: F401  (registers the datasets)
from mmrrsis.evaluation import select_on

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'tests', 'data')
PAPER_CONFIGS = {
    'rrsisd': 'configs/lavt/lavt_swinb_rrsisd.py',
    'refsegrs': 'configs/lavt_swinb.py',
    'risbench': 'configs/lavt/lavt_swinb_risbench.py',
}


def _cfg(name: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO, PAPER_CONFIGS[name]))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = osp.join(DATA, name)
    return cfg


def _texts(dataset_cfg) -> list:
    ds = DATASETS.build(dataset_cfg)
    return [ds.get_data_info(i)['text'] for i in range(len(ds))]


@pytest.mark.parametrize('name', sorted(PAPER_CONFIGS))
def test_paper_configs_select_on_val_by_default(name):
    cfg = _cfg(name)
    assert cfg.val_dataloader.dataset.split == 'val'
    assert cfg.test_dataloader.dataset.split == 'test'
    before = cfg.pretty_text
    assert select_on(cfg, 'val') is cfg
    assert cfg.pretty_text == before  # 'val' changes nothing
    assert 'selection_split' not in cfg


@pytest.mark.parametrize('name', sorted(PAPER_CONFIGS))
def test_select_on_test_validates_on_the_test_split(name):
    init_default_scope('mmseg')
    cfg = _cfg(name)
    val_loader_keys = {k: v for k, v in cfg.val_dataloader.items()
                       if k != 'dataset'}
    select_on(cfg, 'test')
    assert cfg.selection_split == 'test'
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.val_dataloader.dataset == cfg.test_dataloader.dataset
    assert cfg.val_evaluator == cfg.test_evaluator
    # a copy: the test set is left as it was
    cfg.val_dataloader.dataset.pipeline = []
    assert cfg.test_dataloader.dataset.pipeline
    # only the dataset changes, not the loader settings
    assert {k: v for k, v in cfg.val_dataloader.items()
            if k != 'dataset'} == val_loader_keys
    # the validation set now holds the test expressions of the fixture
    val, test, held_out = (_texts(c) for c in (
        cfg.val_dataloader.dataset, cfg.test_dataloader.dataset,
        _cfg(name).val_dataloader.dataset))
    assert val == test and val != held_out


def test_select_on_bad_input():
    cfg = _cfg('refsegrs')
    with pytest.raises(ValueError, match='split must be one of'):
        select_on(cfg, 'train')
    cfg.val_cfg = None
    with pytest.raises(ValueError, match='val_cfg'):
        select_on(cfg, 'test')


@pytest.mark.parametrize('name', sorted(PAPER_CONFIGS))
def test_base_configs_state_the_protocol(name):
    path = osp.join(REPO, 'configs', '_base_', 'datasets', f'{name}.py')
    with open(path) as f:
        text = f.read()
    assert 'select' in text.lower() and '--select-on test' in text
