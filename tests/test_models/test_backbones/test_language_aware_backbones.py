"""Registered language-aware backbones: subclasses of MMSeg's Swin / ResNet
and MMPretrain's ConvNeXt with a fusion call inside every stage."""
import pytest
import torch
from mmseg.registry import MODELS

from mmrrsis.models.backbones import (BaseLanguageAwareBackbone,
                                      LanguageAwareConvNeXt,
                                      LanguageAwareResNet, LanguageAwareSwin,
                                      PretrainedSwinTransformer, fusion_runner,
                                      run_with_fusion)

SWIN = dict(pretrain_img_size=64, embed_dims=8, patch_size=4, window_size=4,
            mlp_ratio=2, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
            strides=(4, 2, 2, 2), out_indices=(0, 1, 2, 3),
            drop_path_rate=0.0, init_cfg=None)
RESNET = dict(depth=18, stem_channels=8, base_channels=8, init_cfg=None)
CONVNEXT = dict(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
                out_indices=(0, 1, 2, 3), gap_before_final_norm=False,
                drop_path_rate=0.0, init_cfg=None)
PAIRS = dict(
    swin=('SwinTransformer', 'LanguageAwareSwin', SWIN, [8, 16, 32, 64]),
    swin_mmseg_attn=('SwinTransformer', 'LanguageAwareSwin', SWIN,
                     [8, 16, 32, 64]),
    resnet=('ResNet', 'LanguageAwareResNet', RESNET, [8, 16, 32, 64]),
    resnet_v1c=('ResNetV1c', 'LanguageAwareResNet',
                dict(RESNET, deep_stem=True), [8, 16, 32, 64]),
    convnext=('mmpretrain.ConvNeXt', 'LanguageAwareConvNeXt', CONVNEXT,
              [8, 16, 32, 64]))


def _img():
    return torch.randn(2, 3, 64, 64,
                       generator=torch.Generator().manual_seed(0))


def _pair(name):
    plain_type, aware_type, cfg, channels = PAIRS[name]
    torch.manual_seed(0)
    plain_cfg = dict(cfg, type=plain_type)
    if plain_type == 'ResNetV1c':  # deep_stem=True is what V1c sets
        plain_cfg.pop('deep_stem')
    plain = MODELS.build(plain_cfg)
    aware_cfg = dict(cfg, type=aware_type)
    if name == 'swin_mmseg_attn':  # MMSeg's window attention, bit-exact
        aware_cfg['attn_impl'] = 'mmseg'
    aware = MODELS.build(aware_cfg)
    return plain, aware, channels


#: Swin's default window attention (SDPA) is the same function up to
#: float32 rounding (tests/test_models/test_backbones/
#: test_window_attention.py); the other pairs are bit-exact.
ATOL = dict(swin=1e-5)


def test_registered_as_subclasses():
    assert issubclass(LanguageAwareSwin, PretrainedSwinTransformer)
    for cls in (LanguageAwareSwin, LanguageAwareResNet,
                LanguageAwareConvNeXt):
        assert issubclass(cls, BaseLanguageAwareBackbone)
        assert MODELS.get(cls.__name__) is cls


@pytest.mark.parametrize('name', sorted(PAIRS))
@torch.no_grad()
def test_same_keys_and_plain_forward(name):
    """Same checkpoint keys as the plain backbone; loading the plain one's
    weights strictly gives the same forward, and an identity fusion gives
    that forward too."""
    plain, aware, channels = _pair(name)
    assert list(aware.state_dict()) == list(plain.state_dict())
    aware.load_state_dict(plain.state_dict(), strict=True)
    plain.eval(), aware.eval()
    img = _img()
    ref = list(plain(img))
    atol = ATOL.get(name, 0)
    for a, b in zip(aware(img), ref):
        torch.testing.assert_close(a, b, rtol=0, atol=atol)
    seen = []
    fused = aware.forward_with_fusion(
        img, lambda i, x: (seen.append((i, x.shape[1])) or x, x))
    assert seen == list(enumerate(channels))
    for a, b in zip(fused, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=atol)
    # the helper drives the plain instance with the same stage loop
    for a, b in zip(run_with_fusion(plain, img, lambda i, x: (x, x)), ref):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('name', ['swin', 'resnet', 'convnext'])
@torch.no_grad()
def test_stream_and_out_go_where_they_belong(name):
    """``stream`` continues through the backbone (changes later stages
    only), ``out`` becomes the stage output (changes that stage only)."""
    _, aware, _ = _pair(name)
    aware.eval()
    img = _img()
    ref = aware.forward_with_fusion(img, lambda i, x: (x, x))
    outs = aware.forward_with_fusion(
        img, lambda i, x: (x, x + 1.0 if i == 1 else x))
    assert torch.equal(outs[0], ref[0]) and torch.equal(outs[2], ref[2])
    assert not torch.allclose(outs[1], ref[1])
    streams = aware.forward_with_fusion(
        img, lambda i, x: (x + 1.0 if i == 1 else x, x))
    assert torch.equal(streams[0], ref[0])
    assert torch.equal(streams[1], ref[1])
    assert not torch.allclose(streams[2], ref[2])


def test_convnext_needs_maps():
    with pytest.raises(ValueError, match='gap_before_final_norm'):
        MODELS.build(dict(CONVNEXT, type='LanguageAwareConvNeXt',
                          gap_before_final_norm=True))


def test_language_aware_swin_keeps_the_checked_pretrained_load(tmp_path):
    """A file that covers part of the backbone raises, as for
    PretrainedSwinTransformer (the coverage check is inherited)."""
    from mmrrsis.models.utils import PretrainedCoverageError
    torch.manual_seed(0)
    src = MODELS.build(dict(SWIN, type='SwinTransformer'))
    state = {k: v for k, v in src.state_dict().items()
             if not k.startswith('stages.3')}
    path = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=state), path)
    model = MODELS.build(dict(
        SWIN, type='LanguageAwareSwin',
        init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    with pytest.raises(PretrainedCoverageError):
        model.init_weights()
    full = tmp_path / 'full.pth'
    torch.save(dict(state_dict=src.state_dict()), full)
    model = MODELS.build(dict(
        SWIN, type='LanguageAwareSwin',
        init_cfg=dict(type='Pretrained', checkpoint=str(full))))
    model.init_weights()
    assert model.pretrained_report['complete']
    torch.testing.assert_close(model.stages[3].blocks[0].ffn.layers[1].weight,
                               src.stages[3].blocks[0].ffn.layers[1].weight)


def test_fusion_runner_of_unknown_backbone_is_none():
    m = MODELS.build(dict(type='MixVisionTransformer', embed_dims=8,
                          num_layers=[1, 1, 1, 1], num_heads=[1, 1, 1, 1]))
    assert fusion_runner(m) is None
    with pytest.raises(TypeError, match='LanguageAwareSwin'):
        run_with_fusion(m, _img(), lambda i, x: (x, x))
