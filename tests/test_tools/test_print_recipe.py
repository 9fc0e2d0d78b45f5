"""tools/analysis_tools/print_recipe.py: what a run of a paper config will
do (batch, iterations, parameter groups, loss, protocol, pretrained
coverage), computed from the config and the optimiser MMEngine builds."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from tool_test_utils import load_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/analysis_tools/print_recipe.py')


def test_iterations_follow_mmengine_default_sampler(tool):
    assert tool.iterations_per_epoch(2172, 8, 1) == 272
    # padded to ceil(2172 / 4) = 543 per rank, 272 batches of 2
    assert tool.iterations_per_epoch(2172, 2, 4) == 272
    assert tool.iterations_per_epoch(10, 3, 1) == 4


@pytest.fixture(scope='module')
def fianet_report(tool):
    return tool.main([osp.join(REPO, 'configs/fianet_swinb.py')])


def test_fianet_recipe_is_the_official_one(fianet_report):
    text = fianet_report
    assert '8 images per GPU x 1 GPU(s) = 8 per step' in text
    assert '60 epochs x 272 iterations = 16320 iterations' in text
    assert "'lr': 5e-05" in text and 'PolyLR(power=0.9' in text
    assert 'WeightedCrossEntropyLoss x 0.9' in text
    assert ("ForegroundDiceLoss x 0.1 {'include_background': True, "
            "'reduction': 'sum', 'eps': 1e-06}") in text
    assert 'max_length 20 tokens; layers 0-9 trained' in text
    assert 'seed 2401' in text
    assert "best oIoU on the 'val' split" in text
    assert "final numbers: the 'test' split" in text


def test_fianet_parameter_groups(fianet_report):
    # BERT-base: embeddings 23.84 M + 2 layers x 7.09 M are frozen
    line = [x for x in fianet_report.splitlines()
            if x.strip().startswith('text_encoder:')][0]
    assert 'frozen 38.01 M' in line and 'trainable 70.88 M' in line
    # Swin norms and position tables: no decay; TMEM's BN is decayed as in
    # the official code, its LayerNorms are not
    bb = [x for x in fianet_report.splitlines()
          if x.strip().startswith('backbone:')][0]
    assert 'decay x0: 0.26 M' in bb
    neck = [x for x in fianet_report.splitlines()
            if x.strip().startswith('neck:')][0]
    assert 'decay x0: 1920,' in neck


def test_other_gpu_count_warns(tool):
    text = tool.main([osp.join(REPO, 'configs/lavt_swinb.py'),
                      '--gpus', '8'])
    assert '2 images per GPU x 8 GPU(s) = 16 per step' in text
    assert 'WARNING: the recipe trains at 8 per step' in text
    # 2172 / 8 ranks -> 272 per rank -> 136 batches of 2
    assert '40 epochs x 136 iterations' in text


def test_check_pretrained_reports_coverage(tool, tmp_path):
    """A ResNet checkpoint that holds half of the backbone's tensors: the
    report shows the share and the missing keys."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/lavt/lavt_tiny_synthetic.py'))
    bb = MODELS.build(cfg.model.backbone)
    sd = bb.state_dict()
    keep = dict(list(sd.items())[:len(sd) // 2])
    path = str(tmp_path / 'half.pth')
    torch.save(dict(state_dict=keep), path)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path)
    text = tool.recipe(cfg, gpus=1, check_pretrained=True)
    line = [x for x in text.splitlines() if 'backbone coverage' in x][0]
    share = float(line.split(':')[1].strip().rstrip('%'))
    assert 30 < share < 70
    assert 'missing' in text
    assert 'text encoder coverage: complete' in text  # the shipped MiniLM
