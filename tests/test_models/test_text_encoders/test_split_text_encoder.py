"""SplitTextEncoder: the context, object and spatial texts, with caching."""
import pytest
import torch
from mmseg.registry import MODELS
from model_test_utils import MINILM

from mmrrsis.models.text_encoders.split_text_encoder import SPLIT_KEYS

TEXTS = ['the vehicles at the top left', 'a big grey thing',
         'the red building north of the pool']


def _encoder(**kwargs):
    cfg = dict(type='SplitTextEncoder', model_name_or_path=MINILM,
               max_length=12, frozen_layers=-1,
               splitter=dict(class_words='synthetic'))
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


@pytest.fixture(scope='module')
def encoder():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    return _encoder()


def test_outputs(encoder):
    out = encoder(TEXTS)
    B, L, C = out['feats'].shape
    assert (B, L) == (3, 12) and C == encoder.out_channels
    for k in ('object_feats', 'spatial_feats'):
        assert out[k].shape == (B, L, C) and torch.isfinite(out[k]).all()
    for k in ('object_mask', 'spatial_mask'):
        assert out[k].shape == (B, L)
        assert not (out[k].bool() & ~out['mask'].bool()).any()
    # sample 1 has no class word: empty object mask; no spatial phrase: the
    # spatial text is the sentence
    assert not out['object_mask'][1].any()
    assert torch.equal(out['spatial_mask'][1], out['mask'][1])
    # BERT ran with the object-only mask: its features differ from the
    # sentence's at the object tokens
    tok = out['object_mask'][0].bool()
    assert not torch.allclose(out['object_feats'][0][tok],
                              out['feats'][0][tok], atol=1e-3)


def test_given_masks_match_forward(encoder):
    out = encoder(TEXTS)
    split = encoder.encode_split(out['input_ids'], out['mask'],
                                 out['object_mask'], out['spatial_mask'])
    for k in ('object_feats', 'spatial_feats'):
        torch.testing.assert_close(split[k], out[k])


def test_cache_returns_the_same_and_stays_in_step():
    plain = _encoder()
    cached = _encoder(cache_size=2)
    ref = plain(TEXTS)
    for texts in (TEXTS[:2], TEXTS[1:], TEXTS[::-1]):
        got = cached(texts)
        idx = [TEXTS.index(t) for t in texts]
        for k, v in ref.items():
            torch.testing.assert_close(got[k], v[idx], msg=k)
        # one cache holds each sentence's split features with the rest
        assert all(set(SPLIT_KEYS) <= set(row)
                   for row in cached._cache.values())
        assert len(cached._cache) <= max(2, len(texts))
