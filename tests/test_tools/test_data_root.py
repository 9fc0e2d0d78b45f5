"""Where the data is: ``--data-root`` / ``data_root=`` reach every split,
the demo writes where the tiny configs read, every config checks files."""
import glob
import os.path as osp
import shutil

import pytest
from tool_test_utils import REPO_ROOT, load_script

from mmrrsis.apis.runtime import load_config, set_data_root

TINY = osp.join(REPO_ROOT, 'configs', 'lavt', 'lavt_tiny_synthetic.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _roots(cfg):
    return [cfg[k].dataset.data_root for k in LOADERS]


def test_load_config_data_root_sets_every_split(tmp_path):
    cfg = load_config(TINY, data_root=str(tmp_path))
    assert _roots(cfg) == [str(tmp_path)] * 3
    assert cfg.data_root == str(tmp_path)


def test_cfg_options_data_root_reaches_the_splits(tmp_path):
    """``--cfg-options data_root=DIR`` (MMSeg only changes the variable,
    which no dataset reads any more); a per-split key still wins."""
    cfg = load_config(TINY, cfg_options={'data_root': str(tmp_path)})
    assert _roots(cfg) == [str(tmp_path)] * 3
    other = str(tmp_path / 'test_only')
    cfg = load_config(TINY, cfg_options={
        'data_root': str(tmp_path),
        'test_dataloader.dataset.data_root': other})
    assert _roots(cfg) == [str(tmp_path), str(tmp_path), other]


def test_set_data_root_through_dataset_wrappers():
    from mmengine.config import Config
    cfg = Config(dict(
        data_root='old',
        train_dataloader=dict(dataset=dict(
            type='ConcatDataset', datasets=[
                dict(type='A', data_root='old'),
                dict(type='RepeatDataset', times=2,
                     dataset=dict(type='B', data_root='old'))])),
        test_dataloader=dict(dataset=dict(type='C', data_root='old'))))
    changed = set_data_root(cfg, 'new')
    assert changed == ['train_dataloader', 'test_dataloader']
    ds = cfg.train_dataloader.dataset.datasets
    assert ds[0].data_root == 'new' and ds[1].dataset.data_root == 'new'
    assert cfg.test_dataloader.dataset.data_root == 'new'


def _configs():
    skip = ('/_base_/models/', '/_base_/schedules/', 'default_runtime.py')
    return [p for p in sorted(glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True))
        if not any(s in p for s in skip)]


def test_every_config_checks_files():
    """A missing image is dropped (and listed) when the dataset loads, in
    every split of every config, instead of crashing a dataloader worker
    mid-training."""
    from mmengine.config import Config

    from mmrrsis.apis.runtime import _leaf_datasets
    configs = _configs()
    assert len(configs) > 20
    missing = []
    for path in configs:
        cfg = Config.fromfile(path)
        for key in LOADERS:
            for ds in _leaf_datasets(cfg[key].dataset):
                if not ds.get('check_files'):
                    missing.append((osp.relpath(path, REPO_ROOT), key))
    assert not missing, missing


def test_tiny_config_drops_a_missing_image(refseg_data, tmp_path):
    """The synthetic config's dataset, one training image deleted: the
    sample is dropped at load, not read (and crashed on) at iteration 0."""
    from mmseg.registry import DATASETS
    root = tmp_path / 'data'
    shutil.copytree(refseg_data['root'], root)
    with open(root / 'output_phrase_train.txt') as f:
        first = f.readline().split()[0]
    (root / 'images' / f'{first}.tif').unlink()
    from mmengine.registry import DefaultScope
    cfg = load_config(TINY, data_root=str(root))
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == refseg_data['num_train'] - 1
    missing = [str(ref) for ref, _ in dataset.load_report['missing_file']]
    assert missing == [first]
    for idx in range(len(dataset)):
        assert first not in dataset.get_data_info(idx)['img_path']


@pytest.mark.parametrize('config', [
    'lavt/lavt_tiny_synthetic.py', 'crobim/crobim_tiny_synthetic.py',
    'fianet/fianet_tiny_synthetic.py', 'btdnet/btdnet_tiny_synthetic.py'])
def test_demo_writes_where_the_tiny_configs_read(config):
    from mmengine.config import Config
    demo = load_script('demo/synthetic_demo.py')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    for key in LOADERS:
        # the tools run from the repository root
        assert osp.join(REPO_ROOT, cfg[key].dataset.data_root) == \
            demo.DEFAULT_DATA_ROOT
