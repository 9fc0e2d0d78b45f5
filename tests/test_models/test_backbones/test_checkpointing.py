"""Activation checkpointing (``with_cp``) of a language-aware Swin: the Swin
blocks (MMSeg's switch) and the fusion blocks (through
``fusion_checkpointing`` / ``BaseReferringFusion.with_cp``) recompute in
backward and give the same outputs and gradients."""
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmrrsis.models.fusion import BSC, PWAM
from mmrrsis.models.fusion.base_referring_fusion import fusion_checkpointing
from mmrrsis.models.utils import SDPAWindowMSA, TextFeatures

B, L, CT = 2, 5, 12


def build(with_cp, attn_impl='sdpa'):
    """Tiny LanguageAwareSwin (3 stages, shifted blocks, drop path on) with
    PWAM, BSC, BSC: BSC refines the words the next block reads."""
    torch.manual_seed(0)
    backbone = MODELS.build(dict(
        type='LanguageAwareSwin', pretrain_img_size=32, embed_dims=8,
        depths=(2, 2, 2), num_heads=(1, 2, 2), window_size=4,
        strides=(4, 2, 2), out_indices=(0, 1, 2), drop_path_rate=0.2,
        with_cp=with_cp, attn_impl=attn_impl))
    backbone.init_weights()
    fusions = nn.ModuleList([PWAM(8, CT, num_heads=2, dropout=0.1),
                             BSC(16, CT, num_heads=2, dropout=0.1),
                             BSC(32, CT, num_heads=2)])
    for block in fusions:  # open the gates closed at init
        for name, p in block.named_parameters():
            if name.startswith(('gate', 'word_out')) and p.dim() > 1:
                nn.init.normal_(p, std=0.5)
    model = nn.ModuleDict(dict(backbone=backbone, fusions=fusions))
    model.train()
    return model


def run(model, img, feats):
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, 3:] = 0
    state = dict(text=TextFeatures(feats=feats, mask=mask))

    def fuse(i, x):
        stream, out, state['text'] = model['fusions'][i].fuse(
            x, state['text'])
        return stream, out

    outs = model['backbone'].forward_with_fusion(img, fuse)
    return outs, state['text'].words


def step(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(B, 3, 40, 36, generator=g)  # 10x9 tokens: padded
    feats = torch.randn(B, L, CT, generator=g).requires_grad_()
    torch.manual_seed(1)  # drop path and dropout draw the same numbers
    outs, words = run(model, img, feats)
    loss = sum((o * o).mean() for o in outs) + words.square().mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return outs, words, feats.grad, grads


def count_calls(model, cls):
    """Counts the forward runs of ``cls`` modules (forward hooks do not see
    the recomputation, so the instance's ``forward`` is wrapped)."""
    calls = []

    def counted(forward):
        def wrapper(*args, **kwargs):
            calls.append(1)
            return forward(*args, **kwargs)
        return wrapper

    for m in model.modules():
        if isinstance(m, cls):
            m.forward = counted(m.forward)
    return calls


@pytest.mark.parametrize('attn_impl', ['sdpa', 'mmseg'])
def test_same_outputs_and_gradients_with_checkpointing(attn_impl):
    plain, ckpt = build(False, attn_impl), build(True, attn_impl)
    ckpt.load_state_dict(plain.state_dict(), strict=True)
    fusion_calls = count_calls(ckpt, (PWAM, BSC))
    outs_a, words_a, tg_a, ga = step(plain)
    outs_b, words_b, tg_b, gb = step(ckpt)
    # every fusion block ran twice: in forward and again in backward
    assert len(fusion_calls) == 6
    # non-reentrant checkpoints: the same kernels run, bit for bit
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(b, a, rtol=0, atol=0)
    torch.testing.assert_close(words_b, words_a, rtol=0, atol=0)
    torch.testing.assert_close(tg_b, tg_a, rtol=0, atol=0)
    assert ga.keys() == gb.keys()
    assert {n for n, _ in plain.named_parameters()
            if n.startswith('backbone.')} <= set(ga)
    for name in ga:
        torch.testing.assert_close(gb[name], ga[name], rtol=0, atol=0,
                                   msg=name)


def test_swin_blocks_recompute_in_backward():
    plain, ckpt = build(False), build(True)
    counts = {}
    for tag, model in (('plain', plain), ('ckpt', ckpt)):
        calls = count_calls(model, SDPAWindowMSA)
        step(model)
        counts[tag] = len(calls)
    assert counts['plain'] == 6 and counts['ckpt'] == 12


def test_no_recompute_in_eval_or_without_grad():
    model = build(True)
    calls = count_calls(model, (PWAM, BSC))
    img = torch.randn(B, 3, 32, 32)
    feats = torch.randn(B, L, CT)
    with torch.no_grad():
        run(model, img, feats)
    assert len(calls) == 3
    model.eval()
    outs, words = run(model, img, feats.requires_grad_())
    (outs[-1].sum() + words.sum()).backward()
    assert len(calls) == 6  # 3 more: no second run in backward


def test_block_switch_and_context():
    block = PWAM(8, CT)
    calls = count_calls(block, PWAM)
    x = torch.randn(B, 8, 4, 4, requires_grad=True)
    text = TextFeatures(feats=torch.randn(B, L, CT),
                        mask=torch.ones(B, L, dtype=torch.long))

    def once():
        stream, out, _ = block.fuse(x, text)
        (stream.sum() + out.sum()).backward()

    once()
    assert len(calls) == 1
    block.with_cp = True
    once()
    assert len(calls) == 3
    block.with_cp = False
    with fusion_checkpointing():
        once()
    assert len(calls) == 5
    with fusion_checkpointing(False):
        once()
    assert len(calls) == 6


def test_fiam_with_its_nested_pwam_checkpoints_as_one_block():
    """FIAM (FIANet) calls a PWAM inside: the whole FIAM is checkpointed
    and its PWAM runs plainly within, in the forward pass and in the
    recomputation alike (before, the nested PWAM checkpointed in the
    forward pass only, and backward raised CheckpointError)."""
    from mmrrsis.models.fusion import FIAM

    def build_fiam(with_cp):
        torch.manual_seed(0)
        backbone = MODELS.build(dict(
            type='LanguageAwareSwin', pretrain_img_size=32, embed_dims=8,
            depths=(2, 2), num_heads=(1, 2), window_size=4, strides=(4, 2),
            out_indices=(0, 1), with_cp=with_cp))
        backbone.init_weights()
        fusions = nn.ModuleList([FIAM(8, CT), FIAM(16, CT)])
        for block in fusions:
            block.init_weights()
        model = nn.ModuleDict(dict(backbone=backbone, fusions=fusions))
        model.train()
        return model

    def fiam_step(model):
        g = torch.Generator().manual_seed(0)
        img = torch.randn(B, 3, 32, 32, generator=g)
        mask = torch.ones(B, L, dtype=torch.long)
        mask[1, 3:] = 0
        feats = [torch.randn(B, L, CT, generator=g) for _ in range(3)]
        text = TextFeatures(feats=feats[0], mask=mask,
                            object_feats=feats[1], object_mask=mask,
                            spatial_feats=feats[2], spatial_mask=mask)
        torch.manual_seed(1)  # drop path (MMSeg's 0.1) draws alike
        outs = model['backbone'].forward_with_fusion(
            img, lambda i, x: model['fusions'][i].fuse(x, text)[:2])
        sum((o * o).mean() for o in outs).backward()
        return outs, {n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None}

    plain, ckpt = build_fiam(False), build_fiam(True)
    ckpt.load_state_dict(plain.state_dict(), strict=True)
    fiam_calls = count_calls(ckpt, FIAM)
    pwam_calls = count_calls(ckpt, PWAM)
    outs_a, ga = fiam_step(plain)
    outs_b, gb = fiam_step(ckpt)
    # each FIAM and its PWAM: once in forward, once recomputed in backward
    assert len(fiam_calls) == 4 and len(pwam_calls) == 4
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(b, a, rtol=0, atol=0)
    assert ga.keys() == gb.keys()
    assert any(n.startswith('fusions.0.context_attn') for n in ga)
    for name in ga:
        torch.testing.assert_close(gb[name], ga[name], rtol=0, atol=0,
                                   msg=name)
