"""``backbone.with_cp=True`` (activation checkpointing of the backbone's
blocks and, with the paper configs' ``LanguageAwareSwin``, of the fusion
blocks inside its stages) trains every tiny paper model (the configs of
``equivalence_utils``, as the bf16 test) with the loss and the gradients of
the plain model. FIANet's FIAM, which holds a
PWAM, raised CheckpointError in backward before the nested block was run
plainly inside its checkpoint."""
import copy

import equivalence_utils as eu
import pytest
import torch
from mmengine.config import ConfigDict
from test_bf16_autocast import MODELS_UNDER_TEST, _cfgs


def _train_step(name: str, with_cp: bool):
    from mmseg.registry import MODELS
    cfg = copy.deepcopy(_cfgs()[name])
    if cfg['backbone']['type'] == 'SwinTransformer':
        # the paper configs' Swin: its with_cp covers the fusion blocks too
        cfg['backbone']['type'] = 'LanguageAwareSwin'
    cfg['backbone']['with_cp'] = with_cp
    torch.manual_seed(eu.SEED)
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    eu.perturb(model)
    model.train()
    imgs, samples = eu.inputs()
    torch.manual_seed(1)  # drop path / dropout draw alike
    losses = model(imgs, samples, mode='loss')
    total = sum(v for k, v in losses.items()
                if k.split('.')[-1].startswith('loss'))
    total.backward()
    grads = {n: p.grad for n, p in model.named_parameters()
             if p.grad is not None}
    return total.detach(), grads


@pytest.mark.parametrize('name', MODELS_UNDER_TEST)
def test_with_cp_trains_with_the_plain_gradients(name):
    loss_a, grads_a = _train_step(name, with_cp=False)
    loss_b, grads_b = _train_step(name, with_cp=True)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-6, atol=0)
    assert grads_a.keys() == grads_b.keys()
    assert len(grads_a) > 10
    for n in grads_a:
        torch.testing.assert_close(grads_b[n], grads_a[n], rtol=1e-5,
                                   atol=1e-7, msg=n)
