"""D-MOLS: entity-word erasure and reconstruction (BTDNet), and its effect
on a whole segmentor (training loss only, never inference)."""
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from model_test_utils import (MINILM, SWIN_CHANNELS, make_samples,
                              tiny_segmentor_cfg)

from mmrrsis.models.decode_heads.dmols_head import EntityWordTagger
from mmrrsis.models.utils import TextFeatures

SIZES = [16, 8, 4, 2]  # a 64 px input
CT = 12


@pytest.fixture(scope='module')
def tokenizer():
    from transformers import AutoTokenizer

    from mmrrsis.models.text_encoders import resolve_model_path
    return AutoTokenizer.from_pretrained(resolve_model_path(MINILM))


def _tagged(tokenizer, sentence, words=('building', 'storage tank', 'car',
                                        'windmill', 'tree', 'road marking')):
    tagger = EntityWordTagger(tokenizer, words)
    ids = tokenizer([sentence], return_tensors='pt')['input_ids']
    flags = tagger(ids)[0]
    toks = tokenizer.convert_ids_to_tokens(ids[0])
    return [t for t, f in zip(toks, flags) if f]


def test_tagger_finds_entity_word_pieces(tokenizer):
    assert _tagged(tokenizer, 'the red building left of two storage tanks') \
        == ['building', 'storage', 'tanks']
    assert _tagged(tokenizer, 'the cars near the windmills') == [
        'cars', 'windmill', '##s']
    assert _tagged(tokenizer, 'the road marking') == ['road', 'marking']
    # word boundaries: pieces of other words do not match
    assert _tagged(tokenizer, 'a treehouse next to the cart') == []
    assert _tagged(tokenizer, 'the red square at the top') == []


def _loop_tag(tagger, ids):
    """The former tagger: one pass per phrase (reference)."""
    B, L = ids.shape
    cont = tagger.continuation[ids.clamp(0, len(tagger.continuation) - 1)]
    next_cont = torch.cat([cont[:, 1:], cont.new_zeros(B, 1)], 1)
    out = torch.zeros(B, L, dtype=torch.bool)
    for seq in tagger.sequences:
        n = len(seq)
        if n == 0 or n > L:
            continue
        hit = (ids.unfold(1, n, 1) == torch.tensor(seq)).all(-1)
        hit &= ~cont[:, :L - n + 1] & ~next_cont[:, n - 1:]
        for k in range(n):
            out[:, k:k + L - n + 1] |= hit
    return out


TAG_SENTENCES = [
    'the red building left of two storage tanks',
    'the cars near the windmills', 'a treehouse next to the cart',
    'the red square at the top', 'the road marking along the bikeway',
    'the helipad next to the roundabout and the container crane',
    'the expressway service area beside the ground track field',
    'swimming pools, tennis courts and baseball fields', 'vehicles',
    'the large white airplane parked at the airport on the upper left '
    'next to the harbor and the ship']


@pytest.mark.parametrize('length', [4, 12, 24])
def test_grouped_tagger_equals_one_pass_per_phrase(tokenizer, length):
    from mmrrsis.models.decode_heads.dmols_head import ENTITY_WORDS
    tagger = EntityWordTagger(tokenizer, ENTITY_WORDS)
    assert sorted(len(g[0]) for g in tagger.groups) == [1, 2, 3, 4]
    assert sum(len(g) for g in tagger.groups) == len(tagger.sequences)
    ids = tokenizer(TAG_SENTENCES, padding='max_length', truncation=True,
                    max_length=length, return_tensors='pt')['input_ids']
    got, want = tagger(ids), _loop_tag(tagger, ids)
    assert torch.equal(got, want)
    if length == 24:
        assert want.any(1).sum() == len(TAG_SENTENCES) - 2  # 2 without
        assert want[:, 4:].any()  # phrases of 2-4 pieces were found


def _head(**kwargs):
    cfg = dict(type='DMOLSHead', in_channels=list(SWIN_CHANNELS),
               in_index=(2, 3), embed_dims=16, num_layers=1, num_heads=2,
               tokenizer=MINILM, loss_weight=1.0)
    cfg.update(kwargs)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _inputs(tokenizer, sentences, seed=0):
    g = torch.Generator().manual_seed(seed)
    tok = tokenizer(sentences, padding='max_length', max_length=12,
                    return_tensors='pt')
    B = len(sentences)
    feats = tuple(
        torch.randn(B, c, s, s, generator=g).requires_grad_(True)
        for c, s in zip(SWIN_CHANNELS, SIZES))
    text = TextFeatures(input_ids=tok['input_ids'],
                        mask=tok['attention_mask'],
                        feats=torch.randn(B, 12, CT, generator=g))
    return dict(img_feats=feats, text=text)


SENTENCES = ['the red building on the left', 'two storage tanks at the top']


def test_erases_entities_and_learns_from_visual_features(tokenizer):
    head = _head()
    inputs = _inputs(tokenizer, SENTENCES)
    out = head(inputs)
    ids = inputs['text'].input_ids
    assert out['entity'].sum() == 3  # building; storage tanks
    assert (out['erased_ids'][out['entity']] == tokenizer.mask_token_id).all()
    assert torch.equal(out['erased_ids'][~out['entity']],
                       ids[~out['entity']])
    losses = head.loss(inputs, make_samples(SENTENCES), ConfigDict())
    assert set(losses) == {'loss_re', 'acc_re'}
    assert losses['loss_re'] > 0
    losses['loss_re'].backward()
    grads = [f.grad for f in inputs['img_feats']]
    # L_re reaches the multimodal visual features it reads, only those
    assert grads[0] is None and grads[1] is None
    assert grads[2].abs().sum() > 0 and grads[3].abs().sum() > 0


def test_erased_word_is_not_visible(tokenizer):
    """The reconstruction cannot read the erased word from the text: two
    sentences differing only in their entity give the same prediction."""
    head = _head()
    head.eval()
    a = _inputs(tokenizer, ['the red building on the left'])
    b = _inputs(tokenizer, ['the red car on the left'])
    with torch.no_grad():
        pa, pb = head(a)['hidden'], head(b)['hidden']
    torch.testing.assert_close(pa, pb)
    # ...while the image does change it
    c = _inputs(tokenizer, ['the red building on the left'], seed=1)
    with torch.no_grad():
        assert not torch.allclose(head(c)['hidden'], pa)


def test_reconstruction_learns(tokenizer):
    head = _head()
    inputs = _inputs(tokenizer, SENTENCES)
    inputs['img_feats'] = tuple(f.detach() for f in inputs['img_feats'])
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = head.loss(inputs, None, ConfigDict())['loss_re']
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.2 * first


@pytest.mark.parametrize('target', ['token', 'feature'])
def test_no_entity_batch_reaches_every_parameter(tokenizer, target):
    """DDP without find_unused_parameters needs a gradient on every
    parameter on every rank: a batch with no entity word gives loss 0 but
    still puts every parameter of the head in the graph."""
    kw = dict(text_channels=CT) if target == 'feature' else {}
    head = _head(target=target, **kw)
    inputs = _inputs(tokenizer, ['the red square', 'a blue circle'])
    losses = head.loss(inputs, None, ConfigDict())
    assert float(losses['loss_re']) == 0
    losses['loss_re'].backward()
    missing = [n for n, p in head.named_parameters()
               if p.requires_grad and p.grad is None]
    assert not missing, missing


@pytest.mark.parametrize('sentences', [SENTENCES, TAG_SENTENCES[2:4]])
def test_loss_is_the_one_of_the_per_phrase_tagger(tokenizer, sentences):
    """Same targets and loss as the former tagger, on a batch with entity
    words and on one without."""
    head = _head()
    inputs = _inputs(tokenizer, sentences)
    got = head.loss(inputs, None, ConfigDict())
    tagger = head.tagger
    head.tagger = lambda ids: _loop_tag(tagger, ids)
    want = head.loss(inputs, None, ConfigDict())
    for k, v in want.items():
        assert torch.equal(got[k], v), k
    assert (float(want['loss_re']) > 0) == (sentences is SENTENCES)


def test_weighted_loss_equals_the_mean_over_erased_pieces(tokenizer):
    """The loss (all positions decoded, erased ones weighted) equals the
    cross-entropy averaged over the erased pieces only."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    head = _head()
    inputs = _inputs(tokenizer, SENTENCES)
    out = head(inputs)
    entity = out['entity']
    assert entity.any()
    logits = head.predict_words(out['hidden'][entity])
    want = F.cross_entropy(logits, inputs['text'].input_ids[entity])
    got = head.loss(inputs, None, ConfigDict())['loss_re']
    torch.testing.assert_close(got, head.loss_weight * want)


def test_default_entity_words_cover_the_datasets_classes(tokenizer):
    from mmrrsis.datasets.categories import RISBENCH_CATEGORIES
    from mmrrsis.models.decode_heads.dmols_head import ENTITY_WORDS
    from mmrrsis.models.text_encoders.expression_splitter import CLASS_WORDS
    for name in RISBENCH_CATEGORIES:
        assert name in ENTITY_WORDS, name
    for name in CLASS_WORDS['rrsisd']:
        assert name in ENTITY_WORDS, name
    tagged = _tagged(tokenizer, 'the helipad next to the roundabout and the '
                     'container crane', words=ENTITY_WORDS)
    for word in ('helipad', 'roundabout', 'container', 'crane'):
        assert set(tokenizer.tokenize(word)) <= set(tagged), word
    assert 'next' not in tagged and 'the' not in tagged


def test_feature_target(tokenizer):
    head = _head(target='feature', text_channels=CT)
    inputs = _inputs(tokenizer, SENTENCES)
    out = head(inputs)
    assert head.predict_words(out['hidden']).shape == (2, 12, CT)
    loss = head.loss(inputs, None, ConfigDict())['loss_re']
    assert 0 < float(loss) <= 2
    with pytest.raises(ValueError, match='text_channels'):
        _head(target='feature')


# ---------------------------------------------------------------- segmentor
def _btdnet_cfg(with_dmols):
    cfg = tiny_segmentor_cfg(
        fusion=dict(type='BSC', in_channels=list(SWIN_CHANNELS)),
        decode_head=dict(
            type='TBTDHead', in_channels=list(SWIN_CHANNELS), channels=16,
            text_channels=None, dilations=(1, 2), num_stream_convs=1,
            num_classes=2, dropout_ratio=0.0,
            norm_cfg=dict(type='BN', requires_grad=True), align_corners=True,
            loss_decode=[dict(type='CrossEntropyLoss', loss_weight=1.0),
                         dict(type='ForegroundDiceLoss', loss_weight=1.0)]))
    if with_dmols:
        cfg['auxiliary_head'] = dict(
            type='DMOLSHead', in_channels=list(SWIN_CHANNELS),
            in_index=(2, 3), embed_dims=16, num_layers=1, num_heads=2,
            tokenizer=MINILM)
    return cfg


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 64, 64, generator=g), make_samples(SENTENCES)


def test_dmols_changes_training_loss_not_inference():
    torch.manual_seed(0)
    with_d = MODELS.build(_btdnet_cfg(True))
    with_d.init_weights()
    without = MODELS.build(_btdnet_cfg(False))
    missing, unexpected = without.load_state_dict(with_d.state_dict(),
                                                  strict=False)
    assert not missing and unexpected  # only D-MOLS weights are extra
    assert all(k.startswith('auxiliary_head.') for k in unexpected)

    # inference: identical outputs
    imgs, samples = _batch()
    for m in (with_d, without):
        m.eval()
    with torch.no_grad():
        p1 = with_d.predict(imgs, copy.deepcopy(samples))
        p2 = without.predict(imgs, copy.deepcopy(samples))
    for a, b in zip(p1, p2):
        torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data,
                                   rtol=0, atol=0)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)

    # training: the same segmentation losses plus L_re, which changes the
    # gradients of the backbone and the fusion blocks
    grads = []
    for m in (with_d, without):
        m.train()
        m.zero_grad()
        losses = m.loss(imgs, copy.deepcopy(samples))
        total = sum(v for k, v in losses.items() if 'loss' in k)
        total.backward()
        grads.append((losses, float(total),
                      m.fusions[2].f_query[0].weight.grad.clone()))
    (l1, t1, g1), (l2, t2, g2) = grads
    assert 'aux.loss_re' in l1 and 'aux.loss_re' not in l2
    assert float(l1['aux.loss_re']) > 0
    for k, v in l2.items():
        torch.testing.assert_close(l1[k], v)
    assert t1 > t2
    assert not torch.allclose(g1, g2)


def test_segmentor_passes_grounded_words_to_heads():
    torch.manual_seed(0)
    model = MODELS.build(_btdnet_cfg(True))
    model.init_weights()
    for block in model.fusions:  # open the zero-initialised word update
        torch.nn.init.normal_(block.word_out.weight, std=0.5)
    imgs, samples = _batch()
    feats = model.extract_feat(imgs, SENTENCES)
    text = feats['text']
    assert text.grounded.shape == text.feats.shape
    # the words the 4 BSC blocks grounded, not the encoder's
    real = text.mask.bool()
    assert not torch.allclose(text.grounded[real], text.feats[real])
    torch.testing.assert_close(text.feats,
                               model.encode_text(SENTENCES).feats)
    # the last-stage stream gate is frozen, the word update is not
    last = model.fusions[3]
    assert not last.gate[2].weight.requires_grad
    assert last.word_out.weight.requires_grad


def test_segmentor_fills_text_channels_of_the_auxiliary_head():
    cfg = _btdnet_cfg(with_dmols=True)
    cfg['auxiliary_head'].update(target='feature', text_channels=None)
    model = MODELS.build(cfg)
    assert model.auxiliary_head.transform.out_features == \
        model.text_encoder.out_channels
