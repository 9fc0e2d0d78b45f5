"""ReferringEncoderDecoder end to end on a tiny Swin + MiniLM + PWAM + LAVT."""
import pytest
import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from model_test_utils import (SWIN_CHANNELS, make_samples, tiny_head_cfg,
                              tiny_segmentor_cfg, tiny_swin_cfg)

from mmrrsis.models.utils import TextFeatures

TEXTS = ['the red roof on the left', 'a long road']


def _build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_segmentor_cfg(**kwargs))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    m = _build()
    # open the language gates so the sentence also steers the visual stream
    for f in m.fusions:
        nn.init.normal_(f.gate[2].weight, std=0.5)
    return m


def _img(seed=0, size=64):
    return torch.randn(2, 3, size, size,
                       generator=torch.Generator().manual_seed(seed))


def test_structure(model):
    assert len(model.fusions) == 4
    assert [f.vis_project[0].in_channels for f in model.fusions] \
        == SWIN_CHANNELS
    assert all(f.f_key.in_channels == 384 for f in model.fusions)
    assert model.text_encoder.out_channels == 384


def test_init_weights_reaches_fusion_blocks():
    """The segmentor's init_weights() runs PWAM.init_weights(): with
    gate_init='zero' every language gate starts closed."""
    from model_test_utils import SWIN_CHANNELS
    m = _build(fusion=dict(type='PWAM', in_channels=list(SWIN_CHANNELS),
                           gate_init='zero'))
    for f in m.fusions:
        assert f.gate[2].weight.abs().sum() == 0
    with torch.no_grad():
        feats = m.extract_feat(_img(), TEXTS)['img_feats']
    assert len(feats) == 4


def test_loss_and_backward(model):
    model.train()
    model.zero_grad()
    losses = model(_img(), make_samples(TEXTS), mode='loss')
    assert {'decode.loss_ce', 'decode.loss_dice'} <= set(losses)
    total = losses['decode.loss_ce'] + losses['decode.loss_dice']
    assert torch.isfinite(total)
    total.backward()
    for name, module in [('fusion', model.fusions[0]),
                         ('fusion3', model.fusions[3]),
                         ('backbone', model.backbone.stages[0]),
                         ('patch_embed', model.backbone.patch_embed),
                         ('head', model.decode_head)]:
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0
                             for g in grads), name
    # the frozen text encoder gets none
    assert all(p.grad is None for p in model.text_encoder.parameters())
    model.zero_grad()


@torch.no_grad()
def test_predict_sizes(model):
    model.eval()
    samples = make_samples(TEXTS, img_shape=(64, 64), ori_shape=(50, 80),
                           with_gt=False)
    out = model(_img(), samples, mode='predict')
    assert len(out) == 2
    for s in out:
        assert s.pred_sem_seg.data.shape == (1, 50, 80)
        assert s.pred_sem_seg_input.data.shape == (1, 64, 64)
        assert s.seg_logits.data.shape == (2, 50, 80)
        assert set(s.pred_sem_seg.data.unique().tolist()) <= {0, 1}
        # the input-size mask is the argmax of the input-size logits
    logits = model(_img(), samples, mode='tensor')
    full = torch.nn.functional.interpolate(
        logits, size=(64, 64), mode='bilinear', align_corners=True)
    torch.testing.assert_close(out[0].pred_sem_seg_input.data[0],
                               full[0].argmax(0))


@torch.no_grad()
def test_predict_removes_padding(model):
    """img_shape (48, 56) padded to 64x64: pred_sem_seg_input is cropped."""
    model.eval()
    samples = make_samples(TEXTS, img_shape=(64, 64), ori_shape=(96, 112),
                           with_gt=False)
    for s in samples:
        s.set_metainfo(dict(img_shape=(48, 56),
                            padding_size=[0, 8, 0, 16]))
    out = model(_img(), samples, mode='predict')
    assert out[0].pred_sem_seg_input.data.shape == (1, 48, 56)
    assert out[0].pred_sem_seg.data.shape == (1, 96, 112)


@torch.no_grad()
def test_tensor_mode(model):
    model.eval()
    logits = model(_img(), make_samples(TEXTS, with_gt=False), mode='tensor')
    assert logits.shape == (2, 2, 16, 16)
    with pytest.raises(ValueError, match='text'):
        model(_img(), None, mode='tensor')


@torch.no_grad()
def test_sentence_changes_prediction(model):
    model.eval()
    img = _img(3)
    img = torch.cat([img[:1], img[:1]])  # the same image twice
    out = model(img, make_samples(['the red roof', 'the long grey road'],
                                  with_gt=False), mode='predict')
    assert not torch.allclose(out[0].seg_logits.data, out[1].seg_logits.data)
    # ...and the same sentence gives the same logits
    out = model(img, make_samples(['the red roof'] * 2, with_gt=False),
                mode='predict')
    torch.testing.assert_close(out[0].seg_logits.data,
                               out[1].seg_logits.data)


@torch.no_grad()
def test_sentence_changes_prediction_closed_gates():
    """Even with closed gates (fresh init) the language reaches the decoder
    through the fusion outputs."""
    m = _build()
    m.eval()
    img = torch.cat([_img(4)[:1]] * 2)
    logits = m(img, make_samples(['the red roof', 'the long grey road'],
                                 with_gt=False), mode='tensor')
    assert not torch.allclose(logits[0], logits[1])


@torch.no_grad()
def test_slide_inference(model):
    model.eval()
    old_cfg = model.test_cfg
    try:
        model.test_cfg = ConfigDict(mode='slide', crop_size=(64, 64),
                                    stride=(32, 32))
        img = torch.cat([_img(5, size=96)[:1]] * 2)
        samples = make_samples(['the red roof', 'the long grey road'],
                               img_shape=(96, 96), ori_shape=(96, 96),
                               with_gt=False)
        out = model(img, samples, mode='predict')
    finally:
        model.test_cfg = old_cfg
    assert out[0].seg_logits.data.shape == (2, 96, 96)
    assert out[0].pred_sem_seg_input.data.shape == (1, 96, 96)
    assert not torch.allclose(out[0].seg_logits.data,
                              out[1].seg_logits.data)


@torch.no_grad()
def test_missing_text_raises_key_error(model):
    model.eval()
    samples = make_samples([None, None], with_gt=False)
    with pytest.raises(KeyError, match='PackReferringInputs'):
        model(_img(), samples, mode='predict')
    with pytest.raises(KeyError, match='PackReferringInputs'):
        model(_img(), make_samples([None, None]), mode='loss')


def test_text_count_mismatch_raises(model):
    with pytest.raises(ValueError, match='expressions'):
        model.extract_feat(_img(), ['only one'])


def test_late_fusion():
    m = _build(fusion_mode='late')
    m.train()
    losses = m(_img(), make_samples(TEXTS), mode='loss')
    total = losses['decode.loss_ce'] + losses['decode.loss_dice']
    assert torch.isfinite(total)
    total.backward()
    assert m.fusions[0].f_key.weight.grad.abs().sum() > 0
    m.eval()
    with torch.no_grad():
        feats = m.extract_feat(_img(), TEXTS)['img_feats']
        plain = m.backbone(_img())
    # late: the backbone runs untouched, the fusion outputs replace its maps
    for i, (f, p) in enumerate(zip(feats, plain)):
        assert f.shape == p.shape
        _, expected = m.fusions[i](p, *_text(m, TEXTS))
        torch.testing.assert_close(f, expected)


def _text(m, texts):
    t = m.encode_text(texts)
    return t.feats, t.mask


def test_late_fusion_accepts_backbones_without_stage_runner():
    m = _build(
        backbone=dict(type='MixVisionTransformer', embed_dims=8,
                      num_layers=[1, 1, 1, 1], num_heads=[1, 2, 5, 8]),
        fusion=dict(type='PWAM', in_channels=[8, 16, 40, 64]),
        fusion_mode='late',
        decode_head=tiny_head_cfg(in_channels=[8, 16, 40, 64]))
    m.eval()
    with torch.no_grad():
        logits = m(_img(), make_samples(TEXTS, with_gt=False), mode='tensor')
    assert logits.shape == (2, 2, 16, 16)


def test_early_fusion_unsupported_backbone_raises():
    with pytest.raises(TypeError, match="fusion_mode='late'"):
        _build(
            backbone=dict(type='MixVisionTransformer', embed_dims=8,
                          num_layers=[1, 1, 1, 1], num_heads=[1, 2, 5, 8]),
            fusion=dict(type='PWAM', in_channels=[8, 16, 40, 64]),
            decode_head=tiny_head_cfg(in_channels=[8, 16, 40, 64]))


def test_no_fusion():
    m = _build(fusion=None)
    assert len(m.fusions) == 0
    m.eval()
    with torch.no_grad():
        feats = m.extract_feat(_img(), TEXTS)['img_feats']
        plain = m.backbone(_img())
        for f, p in zip(feats, plain):
            torch.testing.assert_close(f, p)
        logits = m(_img(), make_samples(TEXTS, with_gt=False), mode='tensor')
    assert logits.shape == (2, 2, 16, 16)
    m.train()
    losses = m(_img(), make_samples(TEXTS), mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])


def test_fusion_list_with_none_skips_stages():
    pwam = dict(type='PWAM', gate_init='zero')  # closed gates
    m = _build(fusion=[None, dict(pwam, in_channels=32), None,
                       dict(pwam, in_channels=128)])
    assert isinstance(m.fusions[0], nn.Identity)
    assert isinstance(m.fusions[2], nn.Identity)
    assert m.fusions[1].f_key.in_channels == 384  # text width filled in
    m.eval()
    with torch.no_grad():
        feats = m.extract_feat(_img(), TEXTS)['img_feats']
        plain = m.backbone(_img())
    # stage 0 is unfused, and with closed gates the stream is unchanged, so
    # stage 2 (unfused) sees the backbone's own input: equal outputs
    torch.testing.assert_close(feats[0], plain[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(feats[2], plain[2], rtol=1e-5, atol=1e-5)
    # fused stages output the (normed) multimodal feature instead
    assert not torch.allclose(feats[1], plain[1], atol=1e-3)
    assert not torch.allclose(feats[3], plain[3], atol=1e-3)


def test_fusion_dict_in_channels_with_none():
    m = _build(fusion=dict(type='PWAM', in_channels=[16, None, 64, None]))
    assert [isinstance(f, nn.Identity) for f in m.fusions] == \
        [False, True, False, True]
    with pytest.raises(ValueError, match='in_channels'):
        _build(fusion=dict(type='PWAM', in_channels=16))


def test_invalid_fusion_mode():
    with pytest.raises(ValueError, match='fusion_mode'):
        MODELS.build(tiny_segmentor_cfg(fusion_mode='middle'))


def test_backbone_swin_stride_sanity():
    # the tiny Swin config the tests rely on: 4 maps at 1/4 ... 1/32
    b = MODELS.build(tiny_swin_cfg())
    with torch.no_grad():
        outs = b(_img())
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]


def test_single_channel_sigmoid_head():
    """out_channels=1 (sigmoid + threshold): both predictions agree."""
    m = _build(decode_head=tiny_head_cfg(
        out_channels=1, threshold=0.5,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True)))
    m.train()
    losses = m(_img(), make_samples(TEXTS), mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    m.eval()
    with torch.no_grad():
        out = m(_img(), make_samples(TEXTS, with_gt=False), mode='predict')
    for s in out:
        assert s.seg_logits.data.shape == (1, 64, 64)
        # MMSeg stores probabilities (sigmoid applied) for one channel
        probs = s.seg_logits.data
        assert probs.min() >= 0 and probs.max() <= 1
        expected = (probs > 0.5).long()
        torch.testing.assert_close(s.pred_sem_seg_input.data, expected)
        torch.testing.assert_close(s.pred_sem_seg.data.long(), expected)


@torch.no_grad()
@pytest.mark.parametrize('direction,dim', [('horizontal', -1),
                                           ('vertical', -2)])
def test_predict_undoes_flip(model, direction, dim):
    model.eval()
    plain = model(_img(), make_samples(TEXTS, with_gt=False), mode='predict')
    samples = make_samples(TEXTS, with_gt=False)
    for s in samples:
        s.set_metainfo(dict(flip=True, flip_direction=direction))
    flipped = model(_img(), samples, mode='predict')
    for p, f in zip(plain, flipped):
        torch.testing.assert_close(f.pred_sem_seg_input.data,
                                   p.pred_sem_seg_input.data.flip(dim))
        # both predictions are undone the same way
        torch.testing.assert_close(f.pred_sem_seg_input.data,
                                   f.pred_sem_seg.data)


def test_every_trainable_parameter_gets_a_gradient():
    m = _build()
    m.train()
    losses = m(_img(), make_samples(TEXTS), mode='loss')
    (losses['decode.loss_ce'] + losses['decode.loss_dice']).backward()
    unused = [n for n, p in m.named_parameters()
              if p.requires_grad and (p.grad is None
                                      or p.grad.abs().sum() == 0)]
    assert not unused, unused


def test_last_stage_gate_is_frozen_but_kept():
    """The last stage's stream is dropped: its gate stays in the state dict
    (checkpoint layout) but is frozen, the other gates train."""
    m = _build()
    last = m.fusions[len(m.fusions) - 1]
    assert all(not p.requires_grad for p in last.gate.parameters())
    assert any('fusions.%d.gate' % (len(m.fusions) - 1) in k
               for k in m.state_dict())
    assert all(p.requires_grad for p in m.fusions[0].gate.parameters())


def test_extract_feat_gives_the_maps_and_one_text_record():
    m = _build()
    m.eval()
    with torch.no_grad():
        out = m.extract_feat(_img(), TEXTS)
        text = m.encode_text(TEXTS)
    assert set(out) == {'img_feats', 'text'}
    assert isinstance(out['text'], TextFeatures)
    # PWAM reads the words and passes the record on
    torch.testing.assert_close(out['text'].feats, text.feats)
    assert out['text'].input_ids is not None


def test_one_rule_fills_text_channels():
    """Absent or None: the text encoder's width, for fusion blocks, necks
    and heads alike; a number is kept; MMSeg modules without the argument
    get none."""
    from crobim_test_utils import lgfa_cfg, mid_cfg
    lgfa = lgfa_cfg(in_channels=list(SWIN_CHANNELS))
    lgfa.pop('text_channels')
    head = mid_cfg(in_channels=[16] * 4)
    head.pop('text_channels')
    m = _build(fusion=[dict(type='PWAM', in_channels=16),
                       dict(type='PWAM', in_channels=32, text_channels=None),
                       None, None],
               fusion_mode='late', neck=lgfa, decode_head=head)
    width = m.text_encoder.out_channels
    assert m.fusions[0].f_key.in_channels == width
    assert m.fusions[1].f_key.in_channels == width
    assert m.neck.attn[0].k_proj.in_features == width
    assert m.decode_head.text_proj[0].in_features == width


def test_plain_mmseg_neck_gets_no_text():
    m = _build(fusion=None,
               neck=dict(type='FPN', in_channels=list(SWIN_CHANNELS),
                         out_channels=8, num_outs=4),
               decode_head=tiny_head_cfg(in_channels=[8] * 4))
    m.eval()
    with torch.no_grad():
        out = m.extract_feat(_img(), TEXTS)
    assert [f.shape[1] for f in out['img_feats']] == [8] * 4
    assert isinstance(out['text'], TextFeatures)


def test_fusion_block_of_the_former_protocol_still_runs():
    """A block that does not derive from BaseReferringFusion (written for
    the protocol before the text record) is called as it was."""
    from mmengine.model import BaseModule

    @MODELS.register_module(name='_FormerProtocolFusion', force=True)
    class Former(BaseModule):
        with_text_dict = True

        def __init__(self, in_channels, text_channels):
            super().__init__()
            self.proj = nn.Linear(text_channels, in_channels)

        def forward(self, x, text):
            shift = self.proj(text['pooled'])[..., None, None]
            return x + shift, x * 2

    m = _build(fusion=dict(type='_FormerProtocolFusion',
                           in_channels=list(SWIN_CHANNELS)))
    m.eval()
    with torch.no_grad():
        out = m.extract_feat(_img(), TEXTS)
        plain = m.backbone(_img())
    assert not torch.allclose(out['img_feats'][1], plain[1])
    assert isinstance(out['text'], TextFeatures)
