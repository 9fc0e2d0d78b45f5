"""SplitTextEncoder: the context, object and spatial texts, with caching."""
import pytest
import torch
from mmseg.registry import MODELS
from model_test_utils import MINILM

from mmrrsis.models.text_encoders.split_text_encoder import (SPLIT_KEYS,
                                                             SplitTextEncoder)

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


# ------------------------------------- one BERT call for the three passes
# object + spatial; no class word and no spatial phrase (both fallbacks);
# an object only (spatial fallback); a long sentence cut at max_length; one
# word (most padding)
EQ_TEXTS = ['the vehicles at the top left', 'a big grey thing',
            'the storage tank',
            'the white vehicle parked along the road on the left of the big '
            'red building next to the pool at the bottom',
            'building']


def _tiny(dtype=torch.float64, **kwargs):
    """A 2-layer random BERT without dropout, in train mode."""
    torch.manual_seed(0)
    cfg = dict(pretrained=False, frozen_layers=0,
               keep_sep_on_truncation=False,
               config_overrides=dict(num_hidden_layers=2,
                                     hidden_dropout_prob=0.0,
                                     attention_probs_dropout_prob=0.0))
    cfg.update(kwargs)
    return _encoder(**cfg).to(dtype).train()


def _both_paths(enc, texts):
    """Outputs and parameter gradients of the batched and the plain path
    of the same encoder."""
    res = []
    for batched in (True, False):
        enc.batched_passes = batched
        enc.zero_grad()
        out = enc(texts)
        w = torch.linspace(-1, 1, out['feats'].shape[-1],
                           dtype=out['feats'].dtype)
        loss = sum(((out[k] * w).sum(-1) ** 2).mean()
                   for k in ('feats', 'object_feats', 'spatial_feats'))
        loss.backward()
        grads = {n: p.grad.clone() for n, p in enc.named_parameters()
                 if p.grad is not None}
        res.append((out, grads))
    return res


@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-12),
                                       (torch.float32, 1e-5)])
def test_batched_passes_equal_three_calls(dtype, tol):
    enc = _tiny(dtype)
    (fast, gfast), (plain, gplain) = _both_paths(enc, EQ_TEXTS)
    # the cases are there: fallbacks, a truncated row, padding
    assert not fast['object_mask'][1].any()
    assert torch.equal(fast['spatial_mask'][1], fast['mask'][1])
    assert fast['mask'][3].all() and not fast['mask'][4].all()
    assert set(fast) == set(plain)
    for k in fast:
        torch.testing.assert_close(fast[k], plain[k], rtol=0, atol=tol,
                                   msg=k)
    assert set(gfast) == set(gplain) and len(gfast) > 10
    for n, g in gfast.items():
        assert g.abs().sum() > 0, n
        scale = gplain[n].abs().max().clamp(min=1)
        torch.testing.assert_close(g / scale, gplain[n] / scale, rtol=0,
                                   atol=tol, msg=n)


def _bert_batches(enc, texts):
    """Batch sizes of the BERT calls of one forward."""
    sizes = []
    hook = enc.model.register_forward_pre_hook(
        lambda m, args, kwargs: sizes.append(kwargs['input_ids'].shape[0]),
        with_kwargs=True)
    try:
        with torch.no_grad():
            enc(texts)
    finally:
        hook.remove()
    return sizes


def test_one_bert_call_over_the_distinct_rows():
    enc = _tiny(torch.float32)
    out = enc(EQ_TEXTS)
    obj_attn, sp_attn = enc.pass_masks(out['mask'], out['object_mask'],
                                       out['spatial_mask'])
    mask = out['mask']
    new_obj = int((obj_attn != mask).any(1).sum())
    new_sp = int(((sp_attn != mask).any(1)
                  & (sp_attn != obj_attn).any(1)).sum())
    # sample 1 falls back for both texts, samples 2 and 4 for the spatial
    # one: 11 BERT rows instead of 15
    assert new_obj == 4 and new_sp == 2
    assert _bert_batches(enc, EQ_TEXTS) == [5 + new_obj + new_sp]
    enc.batched_passes = False
    assert _bert_batches(enc, EQ_TEXTS) == [5, 5, 5]


def test_pass_plan_reuses_equal_rows():
    mask = torch.tensor([[1, 1, 1, 0]] * 4)
    obj = torch.tensor([[0, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0],
                        [0, 0, 1, 0]])
    sp = torch.tensor([[0, 0, 1, 0], [1, 1, 1, 0], [0, 1, 1, 0],
                       [1, 1, 1, 0]])
    src, obj_index, sp_index = SplitTextEncoder.pass_plan(mask, obj, sp)
    stacked = torch.cat([mask, obj, sp])
    # every pass reads a BERT row run with its own attention
    assert torch.equal(stacked[src][obj_index], obj)
    assert torch.equal(stacked[src][sp_index], sp)
    assert torch.equal(src % 4, torch.tensor([0, 1, 2, 3, 0, 2, 3, 0]))
    # row 1's object, rows 1 and 3's spatial (= sentence) and row 2's
    # spatial (= its object) are not run again
    assert torch.equal(src, torch.tensor([0, 1, 2, 3, 4, 6, 7, 8]))


def test_batched_passes_keep_frozen_layers_and_cache():
    # the lineage optimiser: frozen parts get no gradient on either path
    enc = _tiny(torch.float32, frozen_layers=0, trainable_layers=1)
    (_, gfast), (_, gplain) = _both_paths(enc, EQ_TEXTS)
    assert set(gfast) == set(gplain)
    assert all(n.startswith('hf.model.encoder.layer.0.') for n in gfast)
    # a frozen, cached encoder: the same features either way
    cached = _tiny(torch.float32, frozen_layers=-1, cache_size=8).eval()
    plain = _tiny(torch.float32, frozen_layers=-1,
                  batched_passes=False).eval()
    a, b = cached(EQ_TEXTS), plain(EQ_TEXTS)
    again = cached(EQ_TEXTS[::-1])
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5, msg=k)
        torch.testing.assert_close(again[k], a[k].flip(0), msg=k)
    assert not a['object_feats'].requires_grad


def test_split_tokenises_once(monkeypatch):
    from test_hf_text_encoder import count_tokenizer_calls
    enc = _tiny(torch.float32)
    calls = count_tokenizer_calls(monkeypatch, enc.tokenizer)
    enc._warned_truncation = True  # the warning's own re-read aside
    with torch.no_grad():
        enc(EQ_TEXTS)
    assert calls == [EQ_TEXTS]
