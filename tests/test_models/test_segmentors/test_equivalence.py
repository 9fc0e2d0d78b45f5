"""The refactors of issue 13 (one-way text record, shared blocks in
``models/utils``, registered language-aware backbones) change no output and
no checkpoint key: each tiny model, built from the current code, loads the
weights saved before the refactor *strictly* and gives the same text
features, tensor-mode logits, losses and per-parameter gradient sums.

Tolerances: the fixtures are float32 and were written with 2 CPU threads;
another thread count or CPU sums in another order. Measured against them
with 1, 2, 3, 4, 8 and 16 threads: logits differ by up to 2.0e-5 (FIANet,
1 thread; the logits are of order 1), losses by 6e-8, gradient sums of
the parameters that matter (above 1e-3 of the largest) by 7.4e-4
relative, and parameters whose true gradient is 0 carry float32 noise
alone. The bounds below sit well above that and well below what a wrong
refactor gives (1e-2 and more).

Fixtures: ``tests/data/equivalence/*.pth`` (``make_equivalence.py``; each
records the commit it was made from). Models: ``equivalence_utils.py``.
"""
import os.path as osp

import equivalence_utils as eq
import pytest
import torch
from model_test_utils import REPO_ROOT

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'equivalence')


def _load(name):
    return torch.load(osp.join(DATA, f'{name}.pth'), map_location='cpu',
                      weights_only=True)


@pytest.mark.parametrize('backbone', ['plain', 'language_aware'])
@pytest.mark.parametrize('name', sorted(eq.model_cfgs()))
def test_same_outputs_as_before_the_refactor(name, backbone):
    """``plain``: the configs as they were (``type='SwinTransformer'``...);
    ``language_aware``: the registered ``LanguageAware*`` backbones."""
    ref = _load(name)
    assert ref['texts'] == eq.TEXTS
    model = eq.build(name, language_aware=backbone == 'language_aware')
    if backbone == 'language_aware':
        assert type(model.backbone).__name__.startswith('LanguageAware')
    # strict: same parameter and buffer names and shapes as before
    model.load_state_dict(eq.unpack_state(ref['state_dict']), strict=True)
    out = eq.run_model(model)

    assert set(out['text']) == set(ref['text'])
    for key, value in ref['text'].items():
        torch.testing.assert_close(out['text'][key], value, atol=1e-5,
                                   rtol=0, msg=f'text {key}')
    assert out['logits'].shape == ref['logits'].shape
    torch.testing.assert_close(out['logits'], ref['logits'], atol=1e-4,
                               rtol=0)
    assert set(out['losses']) == set(ref['losses'])
    for key, value in ref['losses'].items():
        torch.testing.assert_close(out['losses'][key], value, atol=1e-5,
                                   rtol=1e-5, msg=f'loss {key}')
    # the same parameters train, with the same gradients
    assert set(out['grads']) == set(ref['grads'])
    largest = max(v.item() for v in ref['grads'].values())
    for key, value in ref['grads'].items():
        torch.testing.assert_close(out['grads'][key], value,
                                   atol=1e-5 * largest, rtol=1e-2,
                                   msg=f'grad {key}')


def test_fixtures_exercise_every_path():
    """The saved inputs reach what the refactor touches: FIANet's object and
    spatial words, BTDNet's grounded words (its word update is not zero)
    and D-MOLS's entity words; files stay small."""
    fianet = _load('fianet')
    assert fianet['text']['object_mask'].sum(1).min() > 0
    assert fianet['text']['spatial_mask'].sum(1).min() > 0
    btdnet = _load('btdnet')
    word_out = [k for k in btdnet['state_dict'] if 'word_out.weight' in k]
    assert len(word_out) == 4
    assert all(btdnet['state_dict'][k].abs().sum() > 0 for k in word_out)
    assert all(btdnet['grads'][k] > 0 for k in word_out[:-1])
    assert btdnet['losses']['aux.loss_re'] > 0  # entity words were erased
    for name in eq.model_cfgs():
        assert osp.getsize(osp.join(DATA, f'{name}.pth')) < 2e6
