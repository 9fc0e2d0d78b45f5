"""The text record (TextFeatures) and the one text_channels rule."""
import pytest
import torch

from mmrrsis.models.utils import (TextFeatures, fill_text_channels,
                                  takes_text_channels)


def _record(**fields):
    feats = torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[0, 3:] = 0
    return TextFeatures(feats=feats, mask=mask, pooled=feats[:, 0],
                        **fields)


def test_frozen_and_replace_returns_a_new_record():
    text = _record()
    with pytest.raises(AttributeError):
        text.feats = torch.zeros(2, 5, 8)
    grounded = torch.randn(2, 5, 8)
    new = text.replace(grounded=grounded)
    assert new is not text and text.grounded is None
    assert new.grounded is grounded and new.feats is text.feats


def test_words_are_the_grounded_ones_when_set():
    text = _record()
    assert text.words is text.feats
    grounded = torch.randn(2, 5, 8)
    assert text.replace(grounded=grounded).words is grounded


def test_read_access_as_a_dict():
    text = _record(input_ids=torch.zeros(2, 5, dtype=torch.long))
    assert text['feats'] is text.feats and text['mask'] is text.mask
    assert set(text) == set(text.keys())
    assert set(text) == {'feats', 'mask', 'pooled', 'input_ids'}
    assert 'object_mask' not in text and text.get('object_mask') is None
    with pytest.raises(KeyError):
        text['object_mask']
    assert dict(text.items()) == text.to_dict()
    assert TextFeatures.from_dict(text.to_dict()).input_ids is \
        text.input_ids


def test_unknown_fields_and_shape_mismatches_are_refused():
    text = _record()
    with pytest.raises(KeyError, match='Subclass'):
        TextFeatures.from_dict(dict(text.to_dict(), bsc_feats=text.feats))
    with pytest.raises(ValueError, match='mask'):
        TextFeatures(feats=text.feats, mask=text.mask[:, :4])
    with pytest.raises(ValueError, match='grounded'):
        text.replace(grounded=text.feats[:, :4])


def test_fill_text_channels_one_rule():
    # absent or None -> filled for modules that take it
    assert fill_text_channels(dict(type='PWAM', in_channels=4),
                              32)['text_channels'] == 32
    assert fill_text_channels(dict(type='MIDHead', text_channels=None),
                              32)['text_channels'] == 32
    # a number is kept
    assert fill_text_channels(dict(type='TMEM', text_channels=7),
                              32)['text_channels'] == 7
    # modules without the argument are left as they are
    assert 'text_channels' not in fill_text_channels(
        dict(type='LAVTHead'), 32)
    assert 'text_channels' not in fill_text_channels(
        dict(type='FPN'), 32)
    assert fill_text_channels(None, 32) is None
    cfg = dict(type='CAPM')
    fill_text_channels(cfg, 32)
    assert cfg == dict(type='CAPM')  # the given config is not modified
    for name in ('PWAM', 'FIAM', 'BSC', 'TMEM', 'LGFA', 'CAPM', 'MIDHead',
                 'TBTDHead', 'DMOLSHead'):
        assert takes_text_channels(name), name
    assert not takes_text_channels('NoSuchModule')
