"""ExpressionSplitter: FIANet's object / spatial token masks.

Expected masks marked "official" below were produced by FIANet's official
loaders (``data/refsegrs_refer_bert.py`` / ``data/rrsisd_refer_bert.py`` of
GitHub Shaosifan/FIANet, run unmodified outside this repository with NLTK
3.10.4 and NLTK's averaged-perceptron tagger data) and are hard-coded here;
``tests/data/splitter/official_reference.jsonl`` holds the same for 458
sentences.
"""
import json
import os.path as osp
import random

import pytest
import torch
from model_test_utils import MINILM, REPO_ROOT
from transformers import AutoTokenizer

from mmrrsis.models.text_encoders import ExpressionSplitter, resolve_model_path
from mmrrsis.models.text_encoders.expression_grammar import (FIANET_GRAMMAR,
                                                             RuleGrammar,
                                                             chunk_fianet,
                                                             tokenize_words)

DATA = osp.join(REPO_ROOT, 'tests', 'data', 'splitter')
REFERENCE = osp.join(DATA, 'official_reference.jsonl')
SYN = ['building', 'storage tank', 'vehicle', 'airplane', 'pool']

# (class words, max length, text, official object mask, official spatial
# mask): output of the official loaders, see the module docstring.
OFFICIAL = [
    ('refsegrs', 20, 'vehicle on the road',
     '01001000000000000000', '00111000000000000000'),
    # "with red roof" is a chunk, dropped: "roof" holds the letters "of"
    ('refsegrs', 20, 'the building with red roof near the parking lot',
     '00100000000000000000', '00000011100000000000'),
    # "upper left corner": JJ NN NN, the chunk stops before "corner"
    ('refsegrs', 20, 'the white car in the upper left corner',
     '00010000000000000000', '00001111000000000000'),
    # "next/IN to/TO": no chunk, the spatial text is the sentence
    ('refsegrs', 20, 'the bikeway next to the sidewalk',
     '00100010000000000000', '11111111100000000000'),
    # "lower/JJR left/VBD": the grammar's third rule
    ('rrsisd', 22, 'the windmill in the lower left',
     '0010000000000000000000', '0001111000000000000000'),
    ('rrsisd', 22, 'a large ship on the left of the harbor',
     '0001000001000000000000', '0000111000000000000000'),
    # word indices, not word pieces: "bikeway" is two pieces, so only its
    # first is marked and the chunk "at the lower left" lands one token
    # early ("cyclists at the lower")
    ('refsegrs', 20, 'the bikeway beside the cyclists at the lower left',
     '00100000000000000000', '00000011110000000000'),
    # "on the road" is marked at the first "on": only "on the left" shows
    ('refsegrs', 20, 'the car on the left of the bus on the road',
     '00100000100100000000', '00011100000000000000'),
    # "low vegetation" is found in "yellow" first: "yellow car" is marked
    ('refsegrs', 20, 'the yellow car near low vegetation',
     '00110000000000000000', '00001110000000000000'),
    # case-sensitive class search: no object
    ('refsegrs', 20, 'The Vehicle at the top',
     '00000000000000000000', '00011100000000000000'),
    ('synthetic', 20, 'the red building north of the pool',
     '00010001000000000000', '11111111100000000000'),
]


@pytest.fixture(scope='module')
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model_path(MINILM))


def _bits(t):
    return ''.join(str(int(v)) for v in t.tolist())


def _split(tokenizer, texts, length=20, **kwargs):
    enc = tokenizer(texts, padding='max_length', truncation=True,
                    max_length=length, return_tensors='pt')
    return enc, ExpressionSplitter(**kwargs)(texts, enc)


def _marked(tokenizer, enc, mask, i=0):
    toks = tokenizer.convert_ids_to_tokens(enc['input_ids'][i])
    return [t for t, m in zip(toks, mask[i].tolist()) if m]


def _phrases(sp, text):
    return [text[a:b] for a, b in sp.spatial_spans(text)]


def _reference():
    with open(REFERENCE) as f:
        return [json.loads(line) for line in f]


# ------------------------------------------------------- rule mode
@pytest.mark.parametrize('cw,length,text,obj,spatial', OFFICIAL)
def test_rule_mode_gives_the_official_masks(tokenizer, cw, length, text, obj,
                                            spatial):
    enc, m = _split(tokenizer, [text], length, class_words=cw)
    assert _bits(m['object_mask'][0]) == obj
    assert _bits(m['spatial_mask'][0]) == spatial


def test_preposition_phrases_are_spatial():
    sp = ExpressionSplitter()
    for text, phrases in {
            'the vehicle on the road': ['on the road'],
            'trees along the road': ['along the road'],
            'low vegetation near the building': ['near the building'],
            'the car under the tree': ['under the tree'],
            'buildings with grey roofs': ['with grey'],  # grey/NN roofs/NNS
            'the storage tank in the bottom right corner':
            ['in the bottom right'],
    }.items():
        assert _phrases(sp, text) == phrases, text
    # the old rule needed a position word: none of these were spatial


def test_with_red_roof(tokenizer):
    """The official "of" test is on the phrase's letters: "roof" holds
    "of", so "with red roof" is dropped; ``of_filter='word'`` keeps it."""
    text = 'building with red roof'
    assert _phrases(ExpressionSplitter(), text) == []
    assert _phrases(ExpressionSplitter(of_filter='word'),
                    text) == ['with red roof']
    enc, m = _split(tokenizer, [text], of_filter='word')
    marked = _marked(tokenizer, enc, m['spatial_mask'])
    assert marked == ['with', 'red', 'roof']
    enc, m = _split(tokenizer, [text])  # falls back to the sentence
    assert torch.equal(m['spatial_mask'][0], enc['attention_mask'][0])


def test_phrases_with_of_are_not_spatial():
    for of_filter in ('substring', 'word'):
        sp = ExpressionSplitter(of_filter=of_filter)
        text = 'the impervious surface in front of the building'
        words = [w for w, _, _ in sp.tokenize(text)]
        info = sp.analyse(text)
        chunks = [' '.join(words[a:b]) for a, b in info['chunks']]
        assert chunks == ['in front', 'of the building']
        assert _phrases(sp, text) == ['in front']
        assert _phrases(sp, 'the car at the right of the image') == [
            'at the right']


def test_offsets_placement(tokenizer):
    """Each phrase at its own words, every word piece marked, every
    whole-word class occurrence."""
    text = 'the bikeway beside the cyclists at the lower left'
    enc, m = _split(tokenizer, [text], placement='offsets')
    obj = _marked(tokenizer, enc, m['object_mask'])
    assert len(obj) == 2 and tokenizer.convert_tokens_to_string(
        obj) == 'bikeway'
    assert tokenizer.convert_tokens_to_string(
        _marked(tokenizer, enc, m['spatial_mask'])) == 'at the lower left'
    enc, m = _split(tokenizer, ['the car on the left of the bus on the road'],
                    placement='offsets')
    assert _marked(tokenizer, enc, m['spatial_mask']) == [
        'on', 'the', 'left', 'on', 'the', 'road']
    enc, m = _split(tokenizer, ['the low vegetation between two buses, a bus'],
                    placement='offsets')
    assert _marked(tokenizer, enc, m['object_mask']) == [
        'low', 'vegetation', 'buses', 'bus']
    enc, m = _split(tokenizer, ['a red carpet', 'vehicles, at the top-left.'],
                    placement='offsets', class_words='synthetic')
    assert not m['object_mask'][0].any()  # whole words only
    assert _marked(tokenizer, enc, m['object_mask'], 1) == ['vehicles']
    assert _marked(tokenizer, enc, m['spatial_mask'], 1) == [
        'at', 'the', 'top', '-', 'left']


def test_fallback_and_special_tokens(tokenizer):
    texts = ['the red storage tank', 'a big grey thing']
    enc, m = _split(tokenizer, texts, class_words='rrsisd')
    assert torch.equal(m['spatial_mask'], enc['attention_mask'])
    assert _bits(m['object_mask'][0]) == '00011000000000000000'
    assert not m['object_mask'][1].any()
    enc, m = _split(tokenizer, texts, class_words='rrsisd',
                    spatial_fallback=False)
    assert not m['spatial_mask'].any()
    # truncated to [CLS] a car on the [SEP]: the official placement marks
    # word positions (the last one is [SEP] here, "road" in FIANet, whose
    # truncation drops [SEP]) and drops those past the length; the offsets
    # placement never marks special tokens
    text = ['a car on the road by the car park']
    for placement, obj, spatial in (
            ('official', [0, 0, 1, 0, 0, 1], [0, 0, 0, 1, 1, 1]),
            ('offsets', [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 0])):
        enc, m = _split(tokenizer, text, length=6, placement=placement)
        assert m['object_mask'][0].tolist() == obj  # "car" (and "road")
        assert m['spatial_mask'][0].tolist() == spatial


def test_tokenizer_is_treebank_like():
    nltk = pytest.importorskip('nltk')
    texts = [r['text'] for r in _reference()] + [
        "it's the car, on the road.", 'the vehicle (white) at the top-left;',
        "the car isn't red"]
    for text in texts:
        assert [w for w, _, _ in tokenize_words(text)] == nltk.word_tokenize(
            text, preserve_line=True), text


def test_chunker_matches_nltk_regexp_parser():
    nltk = pytest.importorskip('nltk')
    parser = nltk.RegexpParser(FIANET_GRAMMAR)
    tags = ['IN', 'DT', 'JJ', 'JJR', 'JJS', 'NN', 'NNS', 'VBD', 'CC', 'TO']
    rng = random.Random(0)
    for _ in range(2000):
        seq = [rng.choice(tags) for _ in range(rng.randint(1, 12))]
        tree = parser.parse([(str(i), t) for i, t in enumerate(seq)])
        want = [(int(st.leaves()[0][0]), int(st.leaves()[-1][0]) + 1)
                for st in tree.subtrees() if st.label() == 'PP']
        assert chunk_fianet(seq) == sorted(want), seq


def test_rule_tagger_lexicon_and_context():
    g = RuleGrammar(extra_lexicon={'roofs': 'NN'})
    words = 'the upper left car in the lower left on the left side'.split()
    assert g.tag(words) == ['DT', 'JJ', 'NN', 'NN', 'IN', 'DT', 'JJR', 'VBD',
                            'IN', 'DT', 'JJ', 'NN']
    assert g.tag(['with', 'grey', 'roofs']) == ['IN', 'NN', 'NN']


def test_agreement_with_the_official_reference(tokenizer):
    """Regression guard for the rule tagger: measured on the 458 reference
    sentences (tools/analysis_tools/splitter_agreement.py): 100 % of the
    object masks and 457 / 458 spatial masks agree."""
    rows = _reference()
    splitters = {}
    same_obj = same_sp = 0
    for r in rows:
        key = r['class_words']
        if key not in splitters:
            splitters[key] = ExpressionSplitter(class_words=key)
        enc = tokenizer([r['text']], padding='max_length', truncation=True,
                        max_length=r['max_length'], return_tensors='pt')
        m = splitters[key]([r['text']], enc)
        same_obj += _bits(m['object_mask'][0]) == r['object_mask']
        same_sp += _bits(m['spatial_mask'][0]) == r['spatial_mask']
    assert len(rows) == 458
    assert same_obj == len(rows) and same_sp >= len(rows) - 1


# --------------------------------------------------- official mode
def test_official_mode_with_recorded_tags(tokenizer):
    """mode='official' runs NLTK's tokeniser and chunker; with the tags
    NLTK's tagger gave (recorded in the reference file) in place of the
    tagger, it reproduces every official mask."""
    pytest.importorskip('nltk')
    rows = _reference()
    tags = {tuple(r['words']): r['tags'] for r in rows}

    def recorded(words):
        return list(zip(words, tags[tuple(words)]))

    for r in rows:
        sp = ExpressionSplitter(class_words=r['class_words'],
                                mode='official', pos_tagger=recorded)
        enc = tokenizer([r['text']], padding='max_length', truncation=True,
                        max_length=r['max_length'], return_tensors='pt')
        m = sp([r['text']], enc)
        assert _bits(m['object_mask'][0]) == r['object_mask'], r['text']
        assert _bits(m['spatial_mask'][0]) == r['spatial_mask'], r['text']
        assert [w for w, _, _ in sp.tokenize(r['text'])] == r['words']


def _nltk_tagger_or_skip():
    nltk = pytest.importorskip('nltk')
    for res in ('taggers/averaged_perceptron_tagger_eng/',
                'taggers/averaged_perceptron_tagger/'):
        try:
            nltk.data.find(res)
            return
        except LookupError:
            pass
    pytest.skip('NLTK tagger data not installed (set NLTK_DATA)')


@pytest.mark.parametrize('cw,length,text,obj,spatial', OFFICIAL)
def test_official_mode_with_nltk_data(tokenizer, cw, length, text, obj,
                                      spatial):
    _nltk_tagger_or_skip()
    enc, m = _split(tokenizer, [text], length, class_words=cw,
                    mode='official')
    assert _bits(m['object_mask'][0]) == obj
    assert _bits(m['spatial_mask'][0]) == spatial


def test_official_mode_without_data_explains(tmp_path, monkeypatch):
    nltk = pytest.importorskip('nltk')
    monkeypatch.setattr(nltk.data, 'path', [str(tmp_path)])
    monkeypatch.delenv('NLTK_DATA', raising=False)
    with pytest.raises(LookupError, match='no PyPI package ships'):
        ExpressionSplitter(mode='official', nltk_data=str(tmp_path))


# ------------------------------------------------------------ misc
def test_arguments_are_checked():
    sp = ExpressionSplitter(class_words=['ship'], extra_class_words=['dock'])
    assert sorted(sp.class_phrases) == [('dock', ), ('ship', )]
    with pytest.raises(KeyError, match='Unknown class word list'):
        ExpressionSplitter(class_words='dior')
    with pytest.raises(ValueError, match='placement'):
        ExpressionSplitter(placement='pieces')
    with pytest.raises(ValueError, match='mode'):
        ExpressionSplitter(mode='spacy')
    with pytest.raises(ValueError, match='official'):
        ExpressionSplitter(nltk_data='/x')


def test_offsets_needs_a_fast_tokenizer():
    attn = dict(attention_mask=torch.ones(1, 3))
    with pytest.raises(TypeError, match='fast'):
        ExpressionSplitter(placement='offsets')(['a car'], attn)
    # the official placement only needs the attention mask
    m = ExpressionSplitter()(['a car'], attn)
    assert m['object_mask'].tolist() == [[0, 0, 1]]
