"""ExpressionSplitter: object / spatial token masks aligned on word pieces."""
import pytest
import torch
from transformers import AutoTokenizer

from mmrrsis.models.text_encoders import ExpressionSplitter, resolve_model_path
from model_test_utils import MINILM


@pytest.fixture(scope='module')
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model_path(MINILM))


def _split(tokenizer, texts, length=20, **kwargs):
    enc = tokenizer(texts, padding='max_length', truncation=True,
                    max_length=length, return_tensors='pt')
    return enc, ExpressionSplitter(**kwargs)(texts, enc)


def _marked(tokenizer, enc, mask, i=0):
    toks = tokenizer.convert_ids_to_tokens(enc['input_ids'][i])
    return [t for t, m in zip(toks, mask[i].tolist()) if m]


def test_sub_word_words_are_marked_on_every_piece(tokenizer):
    # "bikeway" splits into word pieces; the words before the phrase do too,
    # which shifted the official (word-index) masks
    text = 'the bikeway beside the cyclists at the lower left'
    enc, m = _split(tokenizer, [text])
    obj = _marked(tokenizer, enc, m['object_mask'])
    assert len(obj) >= 2 and tokenizer.convert_tokens_to_string(
        obj) == 'bikeway'
    assert tokenizer.convert_tokens_to_string(
        _marked(tokenizer, enc, m['spatial_mask'])) == (
            'beside at the lower left')


def test_punctuation_and_hyphens_are_not_marked(tokenizer):
    text = 'vehicles, at the top-left corner.'
    enc, m = _split(tokenizer, [text], class_words='synthetic')
    assert _marked(tokenizer, enc, m['object_mask']) == ['vehicles']
    assert _marked(tokenizer, enc, m['spatial_mask']) == [
        'at', 'the', 'top', '-', 'left', 'corner']


def test_multi_word_classes_plurals_and_every_occurrence(tokenizer):
    text = 'the low vegetation between two buses and a bus'
    enc, m = _split(tokenizer, [text], class_words='refsegrs')
    assert tokenizer.convert_tokens_to_string(
        _marked(tokenizer, enc, m['object_mask'])) == (
            'low vegetation buses bus')
    # a class word must be a whole word: "carpet" is not "car"
    enc, m = _split(tokenizer, ['a red carpet'], class_words='refsegrs')
    assert not m['object_mask'].any()


def test_no_object_word_gives_an_empty_object_mask(tokenizer):
    enc, m = _split(tokenizer, ['the grey thing on the right', 'a car'])
    assert not m['object_mask'][0].any()
    assert m['object_mask'][1].sum() == 1


def test_no_spatial_phrase_falls_back_to_the_sentence(tokenizer):
    texts = ['the red storage tank', 'a car left of the van']
    enc, m = _split(tokenizer, texts, class_words='rrsisd')
    assert torch.equal(m['spatial_mask'][0], enc['attention_mask'][0])
    assert _marked(tokenizer, enc, m['spatial_mask'], 1) == ['left']
    enc, m = _split(tokenizer, texts, class_words='rrsisd',
                    spatial_fallback=False)
    assert not m['spatial_mask'][0].any()


def test_special_tokens_and_padding_never_marked(tokenizer):
    enc, m = _split(tokenizer, ['car car car car car car car car car'],
                    length=6)  # truncated: [CLS] car x4 [SEP]
    assert m['object_mask'][0].tolist() == [0, 1, 1, 1, 1, 0]


def test_custom_lists_and_unknown_name():
    sp = ExpressionSplitter(class_words=['ship'], extra_class_words=['dock'],
                            position_words=['port'])
    assert sorted(sp.class_phrases) == [('dock', ), ('ship', )]
    text = 'ships to port of the dock'
    assert [text[a:b] for a, b in sp.spatial_spans(text)] == ['to port']
    assert [text[a:b] for a, b in sp.object_spans(text)] == ['ships', 'dock']
    with pytest.raises(KeyError, match='Unknown class word list'):
        ExpressionSplitter(class_words='dior')


def test_synthetic_sentences_are_covered(tokenizer):
    """Every synthetic template names its category and, for the position
    and relation kinds, a spatial phrase."""
    cases = {
        'the blue storage tank in the upper left corner':
        ('storage tank', 'in the upper left corner'),
        'airplane at the bottom-right': ('airplane', 'at the bottom-right'),
        'the pool north of the red building': ('pool building', 'north'),
        'the topmost vehicle': ('vehicle', 'topmost'),
        'the building farthest to the left': ('building',
                                              'farthest to the left'),
    }
    sp = ExpressionSplitter(class_words='synthetic')
    for text, (obj, spatial) in cases.items():
        assert ' '.join(text[a:b] for a, b in sp.object_spans(text)) == obj
        assert ' '.join(text[a:b]
                        for a, b in sp.spatial_spans(text)) == spatial


def test_needs_a_fast_tokenizer():
    with pytest.raises(TypeError, match='fast'):
        ExpressionSplitter()(['a car'], dict(attention_mask=torch.ones(1, 3)))
