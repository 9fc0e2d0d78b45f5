"""The banner draws non-ASCII sentences as written and, for a truncated
sentence, what the model read (issue 14, item 7)."""
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmrrsis.visualization import (ReferringLocalVisualizer,
                                   draw_referring_overlay)
from mmrrsis.visualization.referring_visualizer import banner_text

H, W = 48, 320


def _image():
    return np.full((H, W, 3), 128, np.uint8)


def _banner(text, **kwargs):
    out = draw_referring_overlay(_image(), text, **kwargs)
    return out[:-H]


def test_non_ascii_is_not_drawn_as_question_marks():
    # the old Hershey-font banner turned every non-ASCII character into '?'
    for text, ascii_stand_in in (('caf\u00e9', 'caf?'),
                                 ('\u0395\u03bb\u03bb\u03ac\u03b4\u03b1',
                                  '??????'),
                                 ('\u5854 tower', '? tower')):
        drawn = _banner(text)
        assert drawn.max() > 200  # something is written
        assert not np.array_equal(drawn, _banner(ascii_stand_in)), text


def test_distinct_letters_draw_distinct_pixels():
    # '\u00e9' and '\u00e8' (e acute / e grave) differ on the banner
    assert not np.array_equal(_banner('caf\u00e9'), _banner('caf\u00e8'))
    # characters that no font covers still draw something (placeholder)
    assert _banner('\U0001F697').max() > 200


def test_truncated_sentence_draws_what_the_model_read():
    long = ' '.join(['the red building near the tank'] * 50)
    read = ' '.join(['the red building near the tank'] * 3)
    full = _banner(long)
    cut = _banner(long, text_read=read)
    assert cut.shape[0] < full.shape[0] / 5  # 3 phrases + a note, not 50
    note = banner_text(long, read)
    assert note.startswith(read) and 'not read: token limit' in note
    assert str(len(long) - len(read)) in note
    # nothing cut: the sentence itself
    assert banner_text('a car', 'a car') == 'a car'
    np.testing.assert_array_equal(
        _banner('a car', text_read='a car'), _banner('a car'))


def test_visualizer_uses_text_read_from_metainfo():
    long = ' '.join(['the red building near the tank'] * 50)
    read = 'the red building near the tank'
    pred = np.zeros((H, W), np.uint8)
    pred[5:20, 5:20] = 1
    ds = SegDataSample()
    ds.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
    ds.set_metainfo(dict(text=long, text_read=read))
    vis = ReferringLocalVisualizer(name='test_vis_text_read')
    drawn = vis.draw_referring(_image(), ds)
    expected = draw_referring_overlay(_image(), long, pred_mask=pred,
                                      text_read=read)
    np.testing.assert_array_equal(drawn, expected)
