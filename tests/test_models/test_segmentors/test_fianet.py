"""A tiny FIANet (SplitTextEncoder + FIAM in every stage + TMEM + LAVT head)
inside ReferringEncoderDecoder: training step and prediction."""
import torch
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from model_test_utils import (MINILM, SWIN_CHANNELS, make_samples,
                              tiny_segmentor_cfg)

# two object tokens: with a single one the object attention's softmax is
# constant and its query gets no gradient
TEXTS = ['the storage tank at the top left', 'a big grey thing']


def _fianet(**kwargs):
    cfg = tiny_segmentor_cfg(
        text_encoder=dict(type='SplitTextEncoder', model_name_or_path=MINILM,
                          max_length=12, frozen_layers=-1,
                          splitter=dict(class_words='synthetic')),
        fusion=dict(type='FIAM', in_channels=list(SWIN_CHANNELS)),
        neck=dict(type='TMEM', in_channels=list(SWIN_CHANNELS),
                  text_channels=None),
        **kwargs)
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


def test_train_step_reaches_every_trainable_parameter():
    model = _fianet().train()
    last = model.fusions[3]
    # only the context PWAM output leaves the last stage: the rest is frozen
    assert all(not p.requires_grad for p in last.stream_only_parameters())
    assert all(p.requires_grad for p in last.context_attn.parameters())
    assert model.neck.blocks[0].attn.f_key.in_channels == 384
    img = torch.randn(2, 3, 64, 64)
    losses = model.loss(img, make_samples(TEXTS))
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, name  # in the graph (no unused params)
        # the 16-wide stage's channel gate has C/8 = 2 ReLU units that may
        # both be off for a batch; every other parameter must move
        if 'channel_gate' not in name:
            assert p.grad.abs().sum() > 0, name


def test_predict_reads_the_sentence():
    model = _fianet().eval()
    img = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a = model.predict(img, make_samples(TEXTS[:1], with_gt=False))
        b = model.predict(img, make_samples(TEXTS[1:], with_gt=False))
    assert a[0].seg_logits.data.shape == (2, 64, 64)
    assert not torch.allclose(a[0].seg_logits.data, b[0].seg_logits.data)
