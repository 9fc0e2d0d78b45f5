"""Every paper model trains under CPU bf16 autocast, in bf16.

Tiny LAVT, FIANet, CroBIM (Swin, ConvNeXt, ResNet), CroBIM-ConvNeXt with
PWAM and BTDNet with D-MOLS (the configs of ``equivalence_utils``) run the
loss forward and the backward under ``torch.autocast('cpu', bfloat16)``.
Checked: finite losses and gradients, logits close to float32, and every
matrix multiply and convolution (forward and backward, weighted by FLOPs,
counted below autograd with a ``TorchDispatchMode``) runs in bf16: no
float32 island.

float32 that stays, on purpose: autocast's own float32 ops (normalisation:
LayerNorm, GroupNorm, InstanceNorm, BatchNorm; softmax inside the fused
attention kernels accumulates in float32; cross-entropy and the losses) --
none of them is a matmul or convolution. The model code holds no
``.float()`` cast on the forward path (the one in ``pretrained_swin.py``
resizes a checkpoint's position-bias table at load time). Two islands were
removed: the pixel-word attention's queries left InstanceNorm in float32
(and, not contiguous, sent the CPU to the math kernel) and MaskedAttention's
null slot (values one wider than keys) did the same; both now run the fused
kernel in bf16.
"""
import copy
from collections import Counter

import equivalence_utils as eu
import pytest
import torch
from mmengine.config import ConfigDict
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


def _cfgs() -> dict:
    cfgs = eu.model_cfgs()
    cfgs['crobim_swin'] = eu._segmentor(
        backbone=eu.swin(), text_encoder=eu.text_encoder(),
        **eu._crobim_neck_head(eu.SWIN))
    cfgs['crobim_convnext'] = eu._segmentor(
        backbone=eu.convnext(), text_encoder=eu.text_encoder(),
        **eu._crobim_neck_head(eu.CONVNEXT))
    return cfgs


MODELS_UNDER_TEST = sorted(_cfgs())


class MatmulDtypes(TorchDispatchMode):
    """FLOPs of matmuls/convolutions/attention per (op, input dtype)."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet in flop_registry:
            dtype = next(a.dtype for a in args
                         if isinstance(a, torch.Tensor))
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            self.flops[(str(packet), dtype)] += flops
        return out


def _build(name: str, perturb: bool = True):
    from mmseg.registry import MODELS
    torch.manual_seed(eu.SEED)
    model = MODELS.build(ConfigDict(copy.deepcopy(_cfgs()[name])))
    model.init_weights()
    if perturb:
        eu.perturb(model)
    return model


@pytest.mark.parametrize('name', MODELS_UNDER_TEST)
def test_bf16_autocast_forward_backward(name):
    imgs, samples = eu.inputs()
    # Logits close to float32 (bf16 keeps 8 bits of mantissa) at the
    # initialisation; the perturbed weights below (noise on every weight
    # and BN statistic) make FIANet's object/spatial attention nearly
    # uniform, and the InstanceNorm after it magnifies bf16 rounding of a
    # near-constant map (38% of the logits' range, 37% with the attention
    # in float32 too: the model's conditioning, not an island).
    model = _build(name, perturb=False).eval()
    with torch.no_grad():
        ref = model(imgs, samples, mode='tensor')
        with torch.autocast('cpu', dtype=torch.bfloat16):
            low = model(imgs, samples, mode='tensor')
    assert torch.isfinite(low).all()
    err = (low.float() - ref).abs().max() / ref.abs().max()
    assert 0 < err < 0.12, err

    model = _build(name)

    model.train()
    counter = MatmulDtypes()
    with counter:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model(imgs, samples, mode='loss')
        total = sum(v for k, v in losses.items()
                    if k.split('.')[-1].startswith('loss'))
        total.backward()
    assert torch.isfinite(total)
    grads = [(n, p.grad) for n, p in model.named_parameters()
             if p.grad is not None]
    assert len(grads) > 10
    bad = [n for n, g in grads if not torch.isfinite(g).all()]
    assert not bad, bad
    # parameters and their gradients stay float32 (autocast casts copies)
    assert all(g.dtype == torch.float32 for _, g in grads)
    # every matmul / convolution of the step ran in bf16
    total_flops = sum(counter.flops.values())
    assert total_flops > 0
    islands = {k: v for k, v in counter.flops.items()
               if k[1] != torch.bfloat16}
    assert not islands, {k: f'{v / total_flops:.1%}'
                         for k, v in islands.items()}


def test_the_counter_sees_float32_islands():
    """The check above can fail: a float32 matmul under autocast (an
    explicit ``.float()`` island) is counted as one."""
    a = torch.randn(8, 8)
    counter = MatmulDtypes()
    with counter, torch.autocast('cpu', dtype=torch.bfloat16):
        torch.nn.functional.linear(a, a)
        with torch.autocast('cpu', enabled=False):
            a.float() @ a.float()
    dtypes = {d for _, d in counter.flops}
    assert dtypes == {torch.bfloat16, torch.float32}
