"""Odd sentences and images in the inference API, and RefSegInferencer
outputs that are named after image and sentence and never overwritten."""
import os
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest
from tool_test_utils import CONFIG

import mmrrsis  # noqa: F401
from mmrrsis.apis import RefSegInferencer, inference_model, init_model
from mmrrsis.apis.refseg_inferencer import output_name

LONG = ' '.join(['the red building next to the large storage tank'] * 40)


@pytest.fixture(scope='module')
def model(tiny_checkpoint):
    return init_model(CONFIG, tiny_checkpoint, device='cpu')


@pytest.fixture(scope='module')
def inferencer(tiny_checkpoint):
    return RefSegInferencer(CONFIG, tiny_checkpoint)


@pytest.fixture(scope='module')
def images(refseg_data):
    ids = refseg_data['test_ids']
    return [osp.join(refseg_data['root'], 'images', f'{i}.tif')
            for i in ids[:2]]


def test_text_none_is_a_clear_error(model, inferencer, images):
    # the old code: TypeError: 'NoneType' object is not iterable
    with pytest.raises(TypeError, match='text is None: give the sentence'):
        inference_model(model, images[0], None)
    with pytest.raises(TypeError, match='expression 1 is None'):
        inference_model(model, images, ['the red building', None])
    with pytest.raises(TypeError, match='text is None'):
        inferencer(images[0], None)
    with pytest.raises(TypeError, match='text=None'):
        model.text_encoder(None)


def test_long_sentence_reports_what_the_model_read(model, images):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        result = inference_model(model, images[0], LONG)
    meta = result.metainfo
    assert meta['text'] == LONG
    assert meta['text_truncated'] is True
    assert meta['text_num_tokens'] > 100
    read = meta['text_read']
    # a prefix of the sentence, cut at a word boundary: max_length - 2
    # word tokens ([CLS] + [SEP] kept) or max_length - 1 (the paper
    # configs' official truncation: [SEP] cut)
    enc = model.text_encoder
    assert LONG.startswith(read) and 10 < len(read) < len(LONG) // 10
    assert LONG[len(read)] == ' '
    words = enc.max_length - (2 if enc.keep_sep_on_truncation else 1)
    assert meta['text_num_words'] == words

    short = inference_model(model, images[0], 'the red building')
    assert short.metainfo['text_read'] == 'the red building'
    assert short.metainfo['text_truncated'] is False


def test_unknown_tokens_warn(model, images):
    model.text_encoder._unknown_warnings = 0
    model.text_encoder._cache.clear()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        result = inference_model(model, images[0], '\U0001F697\U0001F697')
    msgs = [str(w.message) for w in rec if 'does not know' in str(w.message)]
    assert len(msgs) == 1, [str(w.message) for w in rec]
    assert 'none of its tokens is in its vocabulary' in msgs[0]
    assert result.metainfo['text_num_unknown'] == \
        result.metainfo['text_num_words'] > 0

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        inference_model(model, images[0], 'the red building')
    assert not [w for w in rec if 'does not know' in str(w.message)]


def test_non_ascii_sentence_runs(model, images):
    text = 'le b\u00e2timent rouge pr\u00e8s du r\u00e9servoir'
    result = inference_model(model, images[0], text)
    assert result.metainfo['text_read'] == text
    assert result.metainfo['text_num_unknown'] == 0


def test_corrupt_image_is_named_before_the_model_runs(model, tmp_path):
    bad = tmp_path / 'corrupt.tif'
    bad.write_bytes(b'II*\x00' + b'\x07' * 64)
    with pytest.raises(OSError, match='cannot decode image file'):
        inference_model(model, str(bad), 'the red building')


def test_output_name():
    assert output_name('/a/scene.tif', 'The red building, top left!') == \
        'scene__the_red_building_top_left'
    # letters of any script are kept
    assert output_name('x.png', 'caf\u00e9 \u5854') == 'x__caf\u00e9_\u5854'
    # emoji only: a hash; different sentences, different names
    a, b = output_name('x.png', '\U0001F697'), output_name('x.png', '\u2708')
    assert a.startswith('x__text_') and a != b
    # long sentences are cut with a hash of the whole sentence
    long_a = output_name('x.png', LONG)
    long_b = output_name('x.png', LONG + ' again')
    assert len(long_a) < 80 and long_a != long_b
    assert output_name(np.zeros((2, 2, 3), np.uint8), 'a car',
                       index=3) == 'array3__a_car'


def test_inferencer_never_overwrites(inferencer, images, tmp_path):
    out_dir = str(tmp_path / 'out')
    texts = ['the red building', 'the white vehicle']
    first = inferencer(images, texts, out_dir=out_dir)
    stems = [osp.splitext(osp.basename(p))[0] for p in images]
    expected = [(osp.join(out_dir, f'{s}__{t.replace(" ", "_")}_mask.png'),
                 osp.join(out_dir, f'{s}__{t.replace(" ", "_")}_overlay.png'))
                for s, t in zip(stems, texts)]
    assert first['files'] == expected
    before = {p: open(p, 'rb').read() for pair in expected for p in pair}

    # the same images again, other sentences, and the first pair repeated
    second = inferencer([images[1], images[0]],
                        ['the large storage tank', 'the red building'],
                        out_dir=out_dir)
    assert second['files'][0][0].endswith(
        f'{stems[1]}__the_large_storage_tank_mask.png')
    # same image and sentence as before: a new name, not a replacement
    assert second['files'][1][0] == osp.join(
        out_dir, f'{stems[0]}__the_red_building_1_mask.png')
    for path, data in before.items():
        assert open(path, 'rb').read() == data, f'{path} was overwritten'
    assert len(os.listdir(out_dir)) == 8

    mask = cv2.imread(second['files'][1][0], cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask).tolist()) <= {0, 255}
    np.testing.assert_array_equal(mask > 0, second['predictions'][1] == 1)

    # overwrite=True replaces on purpose
    third = inferencer(images[0], 'the red building', out_dir=out_dir,
                       overwrite=True)
    assert third['files'][0] == expected[0]
    assert len(os.listdir(out_dir)) == 8


def test_inferencer_checks_every_input_first(inferencer, images, tmp_path):
    out_dir = tmp_path / 'out'
    with pytest.raises(FileNotFoundError, match='image 1 not found'):
        inferencer([images[0], str(tmp_path / 'nope.tif')],
                   ['a car', 'a car'], out_dir=str(out_dir))
    with pytest.raises(ValueError, match='expression 1 is empty'):
        inferencer(images, ['a car', '  '], out_dir=str(out_dir))
    assert not out_dir.exists()  # nothing was written


def test_inferencer_draws_what_the_model_read(inferencer, images):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        out = inferencer(images[0], LONG, return_vis=True)
        short = inferencer(images[0], 'the red building', return_vis=True)
    read = out['texts_read'][0]
    assert LONG.startswith(read) and len(read) < len(LONG)
    # the banner holds the read part and a note, not 40 repetitions
    assert out["visualization"][0].shape[0] < 6 * short[
        'visualization'][0].shape[0]
