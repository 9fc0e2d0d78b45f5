"""Compatibility shims: mmcv.ops stand-in, mmpretrain, safe checkpoints."""
import argparse
import math
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401  (applies the shims)
from mmrrsis.utils import has_compiled_mmcv_ops

stub_only = pytest.mark.skipif(
    has_compiled_mmcv_ops(),
    reason='the real compiled mmcv.ops is installed; the stand-in is off')


# ---------------------------------------------------------------- mmcv.ops
@stub_only
def test_stub_is_installed():
    import mmcv
    import mmcv.ops
    assert getattr(sys.modules['mmcv.ops'], 'MMRRSIS_STUB', False)
    assert mmcv.ops is sys.modules['mmcv.ops']


@stub_only
def test_point_sample_matches_hand_computation():
    from mmcv.ops import point_sample
    feat = torch.tensor([[[[0., 1.], [2., 3.]]]])  # 1x1x2x2
    # points are (x, y) in [0, 1]; align_corners=False: pixel centres at
    # 0.25 / 0.75, the image centre averages all four pixels
    points = torch.tensor([[[0.25, 0.25], [0.75, 0.25], [0.25, 0.75],
                            [0.75, 0.75], [0.5, 0.5], [0.5, 0.25]]])
    out = point_sample(feat, points)
    assert out.shape == (1, 1, 6)
    torch.testing.assert_close(
        out[0, 0], torch.tensor([0., 1., 2., 3., 1.5, 0.5]))
    # align_corners=True: (0, 0) and (1, 1) are the corner pixel centres
    out = point_sample(feat, torch.tensor([[[0., 0.], [1., 1.], [1., 0.]]]),
                       align_corners=True)
    torch.testing.assert_close(out[0, 0], torch.tensor([0., 3., 1.]))
    # grid-shaped points (N, Hg, Wg, 2) give (N, C, Hg, Wg)
    grid = torch.full((1, 2, 3, 2), 0.5)
    out = point_sample(torch.cat([feat, feat * 2], 1), grid)
    assert out.shape == (1, 2, 2, 3)
    torch.testing.assert_close(out[:, 1], torch.full((1, 2, 3), 3.0))


def _focal_reference(logits, target, gamma, alpha, weight=None):
    """mmcv's CUDA/CPU kernel, element by element."""
    N, C = logits.shape
    out = torch.zeros(N, C, dtype=torch.float64)
    for n in range(N):
        t = int(target[n])
        for c in range(C):
            p = 1 / (1 + math.exp(-float(logits[n, c])))
            if t == c:
                v = -alpha * (1 - p)**gamma * math.log(max(p, 1e-38))
            else:
                v = -(1 - alpha) * p**gamma * math.log(max(1 - p, 1e-38))
            if weight is not None and t < C:
                v *= float(weight[t])
            out[n, c] = v
    return out.float()


@stub_only
def test_sigmoid_focal_loss_matches_formula():
    from mmcv.ops import sigmoid_focal_loss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 3, generator=g) * 3
    target = torch.tensor([0, 2, 1, 3, 2])  # 3 == C: background
    ref = _focal_reference(logits, target, 2.0, 0.25)
    none = sigmoid_focal_loss(logits, target, 2.0, 0.25, None, 'none')
    torch.testing.assert_close(none, ref, rtol=1e-5, atol=1e-6)
    # mmcv's 'mean' divides the sum by N (not N * C)
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target, 2.0, 0.25, None, 'mean'),
        ref.sum() / 5, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target, 2.0, 0.25, None, 'sum'),
        ref.sum(), rtol=1e-5, atol=1e-6)
    # other gamma / alpha
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target, 1.0, 0.5, None, 'none'),
        _focal_reference(logits, target, 1.0, 0.5), rtol=1e-5, atol=1e-6)
    # per-class weights (shape C), applied as weight[target[n]]
    w = torch.tensor([1.0, 2.0, 0.5])
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target, 2.0, 0.25, w, 'none'),
        _focal_reference(logits, target, 2.0, 0.25, w), rtol=1e-5,
        atol=1e-6)


@stub_only
def test_sigmoid_focal_loss_backward():
    from mmcv.ops import sigmoid_focal_loss
    logits = torch.randn(4, 2, requires_grad=True)
    sigmoid_focal_loss(logits, torch.tensor([0, 1, 2, 1])).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@stub_only
def test_unknown_op_raises_module_not_found():
    import mmcv.ops
    with pytest.raises(ModuleNotFoundError, match='compiled mmcv ops'):
        mmcv.ops.nms  # noqa: B018
    with pytest.raises(ImportError):  # guarded `from mmcv.ops import X`
        from mmcv.ops import CrissCrossAttention  # noqa: F401


def test_mmseg_models_import_uses_the_stand_in():
    import mmcv.ops
    import mmseg.models  # noqa: F401
    from mmseg.models.losses import focal_loss

    # MMSeg's FocalLoss (its CUDA path) calls whatever mmcv.ops provides
    assert focal_loss._sigmoid_focal_loss is mmcv.ops.sigmoid_focal_loss
    from mmseg.utils import mask_classification
    assert mask_classification.point_sample is mmcv.ops.point_sample


def test_build_mmpretrain_convnext_through_mmseg_registry():
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(
        dict(type='mmpretrain.ConvNeXt',
             arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
             out_indices=(0, 1, 2, 3), gap_before_final_norm=False))
    assert type(model).__module__.startswith('mmpretrain')
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]


# ---------------------------------------------------------------- checkpoints
def _mmengine_like_checkpoint():
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer, MessageHub
    hub = MessageHub.get_instance('mmrrsis_test_compat')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float32(0.25))
    hub.update_info('iter', 7)
    buf = HistoryBuffer()
    buf.update(1.0)
    buf.update(3.0)
    return dict(
        meta=dict(epoch=3, iter=np.int64(120), seed=np.int32(0),
                  lr=np.float64(1e-4), hist=np.arange(6).reshape(2, 3),
                  flags=np.array([True, False]),
                  cfg=ConfigDict(a=1, b=dict(c=2))),
        state_dict=OrderedDict(w=torch.randn(3, 3), b=torch.zeros(3)),
        message_hub=hub.state_dict(),
        buffer=buf)


def test_safe_load_accepts_mmengine_checkpoint(tmp_path):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import CheckpointLoader
    ckpt = _mmengine_like_checkpoint()
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    torch.testing.assert_close(loaded['state_dict']['w'],
                               ckpt['state_dict']['w'])
    meta = loaded['meta']
    assert meta['iter'] == 120 and isinstance(meta['iter'], np.integer)
    assert meta['lr'] == pytest.approx(1e-4)
    np.testing.assert_array_equal(meta['hist'], np.arange(6).reshape(2, 3))
    assert meta['flags'].dtype == bool
    assert meta['cfg'].b.c == 2
    assert isinstance(loaded['buffer'], HistoryBuffer)
    assert loaded['buffer'].mean() == pytest.approx(2.0)
    scalars = loaded['message_hub']['log_scalars']
    assert scalars['train/loss'].current() == pytest.approx(0.25)
    # mmengine's own helper goes through the same loader
    from mmengine.runner.checkpoint import _load_checkpoint
    assert _load_checkpoint(str(path), map_location='cpu')['meta']['epoch'] \
        == 3


def test_safe_load_refuses_arbitrary_objects(tmp_path, monkeypatch):
    from mmengine.runner import CheckpointLoader
    monkeypatch.delenv('MMRRSIS_UNSAFE_LOAD', raising=False)
    path = tmp_path / 'namespace.pth'
    torch.save(dict(state_dict={'w': torch.ones(1)},
                    args=argparse.Namespace(lr=0.1)), path)
    with pytest.raises(Exception, match='MMRRSIS_UNSAFE_LOAD') as info:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert 'Namespace' in str(info.value)  # torch names the global
    monkeypatch.setenv('MMRRSIS_UNSAFE_LOAD', '1')
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['args'].lr == 0.1


class _SneakyGetattr:
    """Pickles as getattr(OrderedDict, 'fromkeys'): a getattr call other
    than HistoryBuffer's statistics methods."""

    def __reduce__(self):
        return getattr, (OrderedDict, 'fromkeys')


def test_safe_load_restricts_getattr(tmp_path, monkeypatch):
    from mmengine.runner import CheckpointLoader
    monkeypatch.delenv('MMRRSIS_UNSAFE_LOAD', raising=False)
    path = tmp_path / 'getattr.pth'
    torch.save(dict(x=_SneakyGetattr()), path)
    with pytest.raises(Exception, match='MMRRSIS_UNSAFE_LOAD') as info:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert 'fromkeys' in str(info.value)


def test_safe_load_missing_file(tmp_path):
    from mmengine.runner import CheckpointLoader
    with pytest.raises(FileNotFoundError):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))


def test_safe_load_real_runner_checkpoint(tmp_path):
    """A checkpoint written by an MMEngine Runner (message hub with
    HistoryBuffers, optimizer and scheduler states) loads safely."""
    import torch.nn as nn
    from mmengine.logging import HistoryBuffer
    from mmengine.model import BaseModel
    from mmengine.runner import CheckpointLoader, Runner

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.fc(inputs)
            return dict(loss=out.pow(2).mean()) if mode == 'loss' else out

    runner = Runner(
        model=Toy(),
        work_dir=str(tmp_path),
        experiment_name='compat_ckpt',
        train_dataloader=dict(
            dataset=[dict(inputs=torch.randn(2)) for _ in range(2)],
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(type='PolyLR', by_epoch=False, power=0.9,
                             begin=0, end=2),
        train_cfg=dict(by_epoch=False, max_iters=1, val_interval=100),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False)),
        default_scope='mmseg')
    runner.train()
    ckpt = CheckpointLoader.load_checkpoint(
        str(tmp_path / 'iter_1.pth'), map_location='cpu')
    assert {'meta', 'state_dict', 'message_hub', 'optimizer'} <= set(ckpt)
    scalars = ckpt['message_hub']['log_scalars']
    assert scalars and all(
        isinstance(v, HistoryBuffer) for v in scalars.values())
    torch.testing.assert_close(ckpt['state_dict']['fc.weight'],
                               runner.model.fc.weight.detach())
