"""Every config carries a text-aware flip TTA (``tools/test.py --tta``):
its tta_pipeline builds and mirrors the sentence with the image, and its
tta_model wraps the config's model (built offline, no weights)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from test_configs import CONFIGS, IDS, offline_model_cfg

import mmrrsis  # noqa: F401  (compat shims, registers modules)

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
#: The paper models and their dataset variants: tta_model built in full.
PAPER = [p for p, i in zip(CONFIGS, IDS)
         if ('swinb' in i or 'convnext' in i) and 'wo-' not in i
         and 'mid-' not in i and 'with-' not in i]
TINY = sorted(CONFIG_DIR.glob('*/*_tiny_synthetic.py'))
LOADERS = ('LoadRSImageFromFile', 'LoadReferringAnnotations')


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def test_paper_configs_listed():
    names = {p.name for p in PAPER}
    assert {'lavt_swinb.py', 'fianet_swinb.py', 'crobim_swinb.py',
            'crobim_convnextb.py', 'btdnet_swinb.py', 'lavt_swinb_rrsisd.py',
            'crobim_swinb_risbench.py', 'btdnet_swinb_rrsisd.py'} <= names
    assert len(TINY) == 4


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_tta_pipeline_mirrors_image_and_sentence(path):
    cfg = Config.fromfile(str(path))
    assert cfg.tta_model.type == 'ReferringTTAModel'
    test = cfg.test_dataloader.dataset.pipeline
    tta = cfg.tta_pipeline
    # the test pipeline's steps, then the views, each packed
    assert tta[:-1] == test[:-1]
    assert tta[-1].type == 'TestTimeAug'
    views, pack = tta[-1].transforms
    assert [(v.type, v.prob, v.direction) for v in views] == [
        ('TextAwareRandomFlip', 0., 'horizontal'),
        ('TextAwareRandomFlip', 1., 'horizontal')]
    assert pack == [test[-1]]
    Compose(tta)  # every step is registered
    # run the steps after loading on one sample
    steps = [t for t in tta if t.type not in LOADERS]
    img = np.zeros((40, 50, 3), np.uint8)
    img[:, :10] = 255
    out = Compose(steps)(dict(img=img, img_shape=(40, 50),
                              ori_shape=(40, 50), text='the tank on the left',
                              sample_idx=0))
    plain, mirrored = out['data_samples']
    assert plain.text == 'the tank on the left'
    assert mirrored.text == 'the tank on the right'
    assert torch.equal(out['inputs'][1], out['inputs'][0].flip(dims=(2, )))


@pytest.mark.parametrize('path', PAPER + TINY,
                         ids=[str(p.relative_to(CONFIG_DIR))
                              for p in PAPER + TINY])
def test_tta_model_builds(path):
    from mmseg.registry import MODELS

    from mmrrsis.models.segmentors import (ReferringEncoderDecoder,
                                           ReferringTTAModel)
    cfg = Config.fromfile(str(path))
    tta_cfg = cfg.tta_model.copy()
    tta_cfg['module'] = offline_model_cfg(cfg)
    model = MODELS.build(tta_cfg)
    assert isinstance(model, ReferringTTAModel)
    assert isinstance(model.module, ReferringEncoderDecoder)
    if path not in TINY:
        return
    # the tiny models run the config's TTA end to end (after loading)
    model.eval()
    steps = [t for t in cfg.tta_pipeline if t.type not in LOADERS]
    rng = np.random.default_rng(0)
    batch = pseudo_collate([
        Compose(steps)(dict(img=rng.integers(0, 256, (64, 80, 3), np.uint8),
                            img_shape=(64, 80), ori_shape=(64, 80),
                            text=text, sample_idx=i))
        for i, text in enumerate(['the left car', 'the tank at the top'])])
    with torch.no_grad():
        merged = model.test_step(batch)
    assert [s.text for s in merged] == ['the left car', 'the tank at the top']
    for s in merged:
        assert s.pred_sem_seg.data.shape == (1, 64, 80)
        assert s.pred_sem_seg_input.data.shape[-2:] == tuple(
            cfg.img_scale[::-1])
