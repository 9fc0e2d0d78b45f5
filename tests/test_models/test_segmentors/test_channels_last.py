"""``ReferringEncoderDecoder(channels_last=True)``: the convolution weights
stay channels-last through initialisation, checkpoint loading and
optimiser steps, and the model computes the plain model's function."""
import copy

import equivalence_utils as eu
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.optim import build_optim_wrapper
from test_bf16_autocast import _cfgs

CL = torch.channels_last


def _build(name: str, channels_last: bool):
    from mmseg.registry import MODELS
    cfg = copy.deepcopy(_cfgs()[name])
    cfg['channels_last'] = channels_last
    torch.manual_seed(eu.SEED)
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


def _conv_weights(model):
    return {n: p for n, p in model.named_parameters() if p.dim() == 4}


def _loss_and_grads(model):
    model.train()
    imgs, samples = eu.inputs()
    torch.manual_seed(1)  # drop path draws alike
    losses = model(imgs, samples, mode='loss')
    total = sum(v for k, v in losses.items()
                if k.split('.')[-1].startswith('loss'))
    total.backward()
    return total.detach(), {n: p.grad for n, p in model.named_parameters()
                            if p.grad is not None}


@pytest.mark.parametrize('name', ['crobim_convnext', 'lavt'])
def test_channels_last_computes_the_plain_function(name):
    plain = _build(name, channels_last=False)
    fast = _build(name, channels_last=True)
    convs = _conv_weights(fast)
    assert len(convs) > 3
    for n, p in convs.items():
        assert p.is_contiguous(memory_format=CL), n
    # (a depthwise [C, 1, k, k] or 1x1 weight is contiguous in both)
    both = [n for n, p in convs.items() if p.shape[1] > 1
            and p.shape[2] * p.shape[3] > 1]
    assert len(both) > 3
    for n in both:
        assert not _conv_weights(plain)[n].is_contiguous(memory_format=CL)
    # the same weights in either layout, loaded across layouts
    fast.load_state_dict(plain.state_dict())
    for n, p in _conv_weights(fast).items():
        assert p.is_contiguous(memory_format=CL), n
    eu.perturb(plain)
    fast.load_state_dict(plain.state_dict())

    loss_a, grads_a = _loss_and_grads(plain)
    loss_b, grads_b = _loss_and_grads(fast)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=0)
    assert grads_a.keys() == grads_b.keys()
    for n in grads_a:
        torch.testing.assert_close(grads_b[n], grads_a[n], rtol=1e-4,
                                   atol=1e-6, msg=n)
    plain.eval(), fast.eval()
    imgs, samples = eu.inputs()
    with torch.no_grad():
        torch.testing.assert_close(fast(imgs, samples, mode='tensor'),
                                   plain(imgs, samples, mode='tensor'),
                                   rtol=1e-5, atol=1e-5)


def _two_steps(channels_last: bool, optimizer: dict, state=None):
    model = _build('crobim_convnext', channels_last)
    if state is not None:
        model.load_state_dict(state)
    wrapper = build_optim_wrapper(model, dict(type='OptimWrapper',
                                              optimizer=optimizer))
    for _ in range(2):
        model.train()
        imgs, samples = eu.inputs()
        torch.manual_seed(1)
        wrapper.update_params(model(imgs, samples, mode='loss')
                              ['decode.loss_ce'])
    return model


def test_a_seed_gives_the_same_initial_weights_in_either_layout():
    # random initialisers fill in memory order; init_weights runs in the
    # standard layout
    plain = _build('crobim_convnext', False).state_dict()
    fast = _build('crobim_convnext', True).state_dict()
    assert plain.keys() == fast.keys()
    for n in plain:
        assert torch.equal(fast[n], plain[n]), n


def test_init_weights_keeps_the_parameter_objects():
    """MMEngine's runner builds the optimiser before it calls init_weights:
    the layout changes must not replace the parameters it holds."""
    from mmseg.registry import MODELS
    cfg = copy.deepcopy(_cfgs()['crobim_convnext'])
    model = MODELS.build(ConfigDict(dict(cfg, channels_last=True)))
    held = {n: p for n, p in model.named_parameters()}
    model.init_weights()
    for n, p in model.named_parameters():
        assert p is held[n], n
    for n, p in _conv_weights(model).items():
        assert p.is_contiguous(memory_format=CL), n


def test_fused_adamw_steps_keep_the_layout():
    """The paper schedule's fused AdamW through MMEngine's optim wrapper."""
    before = _build('crobim_convnext', False).state_dict()
    model = _two_steps(True, dict(type='AdamW', lr=1e-3, weight_decay=0.01,
                                  fused=True), before)
    convs = _conv_weights(model)
    for n, p in convs.items():
        assert p.is_contiguous(memory_format=CL), n
        assert torch.isfinite(p).all(), n
    assert sum(not torch.equal(p, before[n]) for n, p in convs.items()) > 3


def test_sgd_steps_give_the_plain_update():
    """Two momentum-SGD steps (an update linear in the gradient: Adam would
    turn the float32 noise of a zero gradient, such as an attention key
    bias's, into a full step) give the plain model's weights."""
    sgd = dict(type='SGD', lr=0.1, momentum=0.9)
    plain = _two_steps(False, sgd)
    fast = _two_steps(True, sgd)
    state_a, state_b = plain.state_dict(), fast.state_dict()
    for n, a in state_a.items():
        if a.is_floating_point():
            torch.testing.assert_close(state_b[n], a, rtol=1e-4, atol=1e-6,
                                       msg=n)
