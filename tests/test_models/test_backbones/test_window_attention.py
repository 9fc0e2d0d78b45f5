"""Swin window attention through SDPA (``attn_impl='sdpa'``) computes the
same function as MMSeg's ``WindowMSA`` / ``ShiftWindowMSA``, with the same
tensors and checkpoint keys; the shift mask is built once per stage and
size."""
import copy

import pytest
import torch
from mmseg.models.backbones.swin import ShiftWindowMSA
from mmseg.registry import MODELS

from mmrrsis.models.backbones import PretrainedSwinTransformer
from mmrrsis.models.utils import (SDPAShiftWindowMSA, SDPAWindowMSA,
                                  ShiftMaskCache, shift_window_mask,
                                  use_sdpa_window_attention)

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def tiny_swin(attn_impl, seed=0, **kwargs):
    """Two stages of two blocks (unshifted + shifted), window 4."""
    torch.manual_seed(seed)
    cfg = dict(type='PretrainedSwinTransformer', attn_impl=attn_impl,
               pretrain_img_size=64, embed_dims=16, depths=(2, 2),
               num_heads=(2, 4), window_size=4, strides=(4, 2),
               out_indices=(0, 1), drop_path_rate=0.)  # deterministic
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    # a bias table of zeros (MMSeg's init) would hide a wrong bias path
    for name, p in model.named_parameters():
        if name.endswith('relative_position_bias_table'):
            torch.nn.init.normal_(p, std=1.0)
    return model


def msa_pair(shift, dtype, seed=0):
    torch.manual_seed(seed)
    plain = ShiftWindowMSA(embed_dims=16, num_heads=2, window_size=4,
                           shift_size=shift)
    torch.nn.init.normal_(plain.w_msa.relative_position_bias_table)
    fast = SDPAShiftWindowMSA(embed_dims=16, num_heads=2, window_size=4,
                              shift_size=shift)
    fast.load_state_dict(plain.state_dict(), strict=True)
    return plain.to(dtype), fast.to(dtype)


def grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('shift', [0, 2])
@pytest.mark.parametrize('hw', [(8, 12), (9, 11)])  # (9, 11): padded
def test_shift_window_msa_matches_mmseg(dtype, shift, hw):
    plain, fast = msa_pair(shift, dtype)
    assert isinstance(fast.w_msa, SDPAWindowMSA)
    x = torch.randn(2, hw[0] * hw[1], 16, dtype=dtype)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = plain(xa, hw), fast(xb, hw)
    assert ya.shape == yb.shape == x.shape
    torch.testing.assert_close(yb, ya, rtol=0, atol=TOL[dtype])
    w = torch.randn_like(ya)
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad, rtol=0, atol=TOL[dtype])
    ga, gb = grads(plain), grads(fast)
    assert ga.keys() == gb.keys()
    assert ga['w_msa.relative_position_bias_table'].abs().sum() > 0
    for name in ga:
        torch.testing.assert_close(gb[name], ga[name], rtol=0,
                                   atol=TOL[dtype] * 10, msg=name)


def test_a_wrong_bias_or_mask_is_caught():
    """The comparison above can fail: another bias or no shift mask moves
    the output far beyond the tolerance."""
    plain, fast = msa_pair(2, torch.float64)
    x = torch.randn(1, 64, 16, dtype=torch.float64)
    with torch.no_grad():  # (a constant would cancel in the softmax)
        table = fast.w_msa.relative_position_bias_table
        table.add_(0.1 * torch.randn_like(table))
    assert (fast(x, (8, 8)) - plain(x, (8, 8))).abs().max() > 1e-4
    plain, fast = msa_pair(2, torch.float64)
    fast.shift_size = 0  # rolls nothing and masks nothing
    assert (fast(x, (8, 8)) - plain(x, (8, 8))).abs().max() > 1e-3


@pytest.mark.parametrize('hw_pad', [(8, 8), (12, 8), (16, 20)])
def test_shift_mask_equals_mmseg(hw_pad):
    """The cached mask is exactly the one MMSeg passes to ``WindowMSA``."""
    plain = ShiftWindowMSA(embed_dims=8, num_heads=2, window_size=4,
                           shift_size=2)
    seen = []
    plain.w_msa.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(kwargs['mask']),
        with_kwargs=True)
    plain(torch.randn(1, hw_pad[0] * hw_pad[1], 8), hw_pad)
    ours = shift_window_mask(4, 2, hw_pad)
    assert ours.shape == (seen[0].shape[0], 1, 16, 16)
    assert torch.equal(ours.squeeze(1), seen[0])
    assert (ours == -100).any() and (ours == 0).any()


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('size', [(64, 64), (44, 52)])  # 11x13 tokens
def test_backbone_sdpa_matches_mmseg(dtype, size):
    plain, fast = tiny_swin('mmseg').to(dtype), tiny_swin('sdpa').to(dtype)
    assert fast.attn_impl == 'sdpa' and plain.shift_mask_cache is None
    assert sum(isinstance(m, SDPAShiftWindowMSA) for m in fast.modules()) \
        == 4
    assert not any(isinstance(m, SDPAWindowMSA) for m in plain.modules())
    # the swap draws no random numbers: same seed, same tensors
    sa, sb = plain.state_dict(), fast.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    img = torch.randn(2, 3, *size, dtype=dtype)
    outs_a, outs_b = plain(img), fast(img)
    sum(o.square().sum() for o in outs_a).backward()
    sum(o.square().sum() for o in outs_b).backward()
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(b, a, rtol=0, atol=TOL[dtype])
    ga, gb = grads(plain), grads(fast)
    for name in ga:
        scale = max(1.0, ga[name].abs().max().item())
        torch.testing.assert_close(gb[name], ga[name], rtol=0,
                                   atol=TOL[dtype] * 10 * scale, msg=name)


def test_plain_checkpoint_loads_strictly(tmp_path):
    plain, fast = tiny_swin('mmseg', seed=1), tiny_swin('sdpa', seed=2)
    path = tmp_path / 'plain.pth'
    torch.save(plain.state_dict(), path)
    fast.load_state_dict(torch.load(path), strict=True)
    img = torch.randn(1, 3, 48, 40)
    with torch.no_grad():
        for a, b in zip(plain(img), fast(img)):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    # and back: the fast model's file loads strictly into MMSeg's Swin
    mmseg_swin = MODELS.build(dict(
        type='SwinTransformer', pretrain_img_size=64, embed_dims=16,
        depths=(2, 2), num_heads=(2, 4), window_size=4, strides=(4, 2),
        out_indices=(0, 1)))
    mmseg_swin.load_state_dict(fast.state_dict(), strict=True)


def test_mask_built_once_per_stage_and_size():
    model = tiny_swin('sdpa')
    model.eval()  # (MMSeg's Swin.train returns None)
    cache = model.shift_mask_cache
    caches = {id(m.mask_cache) for m in model.modules()
              if isinstance(m, SDPAShiftWindowMSA)}
    assert caches == {id(cache)}  # one cache for the backbone
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
        assert cache.builds == 2  # one per stage (16x16, 8x8 tokens)
        model(torch.randn(2, 3, 64, 64))
        assert cache.builds == 2
        model(torch.randn(1, 3, 44, 52))  # padded 12x16 and 8x8: one new
        assert cache.builds == 3
    # no state of the cache in the checkpoint, keys as MMSeg's
    assert not any('mask' in k for k in model.state_dict())
    assert len(copy.deepcopy(model).shift_mask_cache) == 0


def test_cache_is_keyed_by_size_device_dtype_and_bounded():
    cache = ShiftMaskCache(max_entries=2)
    a = cache.get(4, 2, (8, 8), torch.device('cpu'), torch.float32)
    assert cache.get(4, 2, (8, 8), torch.device('cpu'), torch.float32) is a
    b = cache.get(4, 2, (8, 12), torch.device('cpu'), torch.float32)
    assert b.shape[0] == 6 and a.shape[0] == 4
    c = cache.get(4, 2, (8, 12), torch.device('cpu'), torch.float64)
    assert c.dtype == torch.float64 and len(cache) == 2 and cache.builds == 3
    assert cache.get(4, 2, (8, 8), torch.device('cpu'),
                     torch.float32) is not a  # dropped, built anew
    uncached = ShiftMaskCache(max_entries=0)
    uncached.get(4, 2, (8, 8), 'cpu', torch.float32)
    uncached.get(4, 2, (8, 8), 'cpu', torch.float32)
    assert uncached.builds == 2 and len(uncached) == 0


def test_swap_keeps_parameters_and_flags():
    model = MODELS.build(dict(
        type='SwinTransformer', pretrain_img_size=32, embed_dims=8,
        depths=(2, ), num_heads=(2, ), window_size=4, out_indices=(0, ),
        strides=(4, )))
    attn = model.stages[0].blocks[1].attn
    table = attn.w_msa.relative_position_bias_table
    table.requires_grad_(False)
    model.eval()
    use_sdpa_window_attention(model)
    new = model.stages[0].blocks[1].attn
    assert isinstance(new, SDPAShiftWindowMSA) and new.shift_size == 2
    assert new.w_msa.relative_position_bias_table is table
    assert not new.training and not table.requires_grad
    assert new.drop is attn.drop


def test_unknown_attn_impl_is_refused():
    with pytest.raises(ValueError, match='attn_impl'):
        PretrainedSwinTransformer(attn_impl='flash', embed_dims=8,
                                  depths=(1, ), num_heads=(1, ),
                                  strides=(4, ), out_indices=(0, ))
