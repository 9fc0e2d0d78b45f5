"""ReferringTTAModel: each view reads its own sentence, logits are flipped
back and the probabilities averaged, one merged sample per sample."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmseg.registry import MODELS
from model_test_utils import tiny_segmentor_cfg

from mmrrsis.datasets.transforms.flip_tta_pipeline import flip_tta_pipeline
from mmrrsis.models.segmentors import ReferringTTAModel

TEST_PIPELINE = [
    dict(type='Resize', scale=(48, 48), keep_ratio=False),
    dict(type='PackReferringInputs'),
]
TEXTS = ('the tank on the left', 'the upper right car')


def _image(seed, size=64):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _result(img, text, gt=None, idx=0):
    res = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
               text=text, sample_idx=idx, img_path=f'img{idx}.png')
    if gt is not None:
        res['gt_seg_map'] = gt
        res['seg_fields'] = ['gt_seg_map']
    return res


def _batch(pipeline, images, texts, gts=None):
    gts = gts or [None] * len(images)
    return pseudo_collate([
        Compose(pipeline)(_result(img, t, g, i))
        for i, (img, t, g) in enumerate(zip(images, texts, gts))])


class SideModel(torch.nn.Module):
    """A text-dependent stand-in, equivariant under a flip with the words
    swapped: foreground rises towards the side the sentence names, plus a
    term of the image itself. (C=2 logits at the input size.)"""
    out_channels = 2
    align_corners = False

    def __init__(self):
        super().__init__()
        self.data_preprocessor = MODELS.build(
            dict(type='SegDataPreProcessor'))

    def inference(self, inputs, metas):
        _, _, H, W = inputs.shape
        ramp = torch.linspace(-2, 2, W).expand(H, W)
        out = []
        for x, meta in zip(inputs, metas):
            side = -1.0 if 'left' in meta['text'] else 1.0
            fg = side * ramp + (x.float().mean(0) / 255 - 0.5)
            out.append(torch.stack([torch.zeros_like(fg), fg]))
        return torch.stack(out)

    def test_step(self, data):  # what BaseTTAModel asserts exists
        raise AssertionError('ReferringTTAModel runs views itself')


def test_flipped_view_reads_the_swapped_sentence():
    img = _image(0)
    pipeline = flip_tta_pipeline(TEST_PIPELINE)
    out = Compose(pipeline)(_result(img, 'the tank on the left'))
    plain, flipped = out['data_samples']
    assert plain.metainfo['text'] == 'the tank on the left'
    assert not plain.metainfo['flip']
    assert flipped.metainfo['text'] == 'the tank on the right'
    assert flipped.metainfo['flip'] and \
        flipped.metainfo['flip_direction'] == 'horizontal'
    assert torch.equal(out['inputs'][1], out['inputs'][0].flip(dims=(2, )))
    # MMSeg's flip mirrors the image only
    plain_out = Compose(flip_tta_pipeline(TEST_PIPELINE, mode='plain'))(
        _result(img, 'the tank on the left'))
    assert plain_out['data_samples'][1].metainfo['text'] == \
        'the tank on the left'


def test_flip_tta_pipeline_checks_and_directions():
    pipe = flip_tta_pipeline(TEST_PIPELINE, ('horizontal', 'vertical'))
    assert pipe[0] == TEST_PIPELINE[0] and pipe[0] is not TEST_PIPELINE[0]
    views = pipe[-1]['transforms'][0]
    assert [(v['prob'], v['direction']) for v in views] == [
        (0., 'horizontal'), (1., 'horizontal'), (1., 'vertical')]
    out = Compose(pipe)(_result(_image(1), 'the upper left roof'))
    assert [s.metainfo['text'] for s in out['data_samples']] == [
        'the upper left roof', 'the upper right roof', 'the lower left roof']
    with pytest.raises(ValueError, match='mode'):
        flip_tta_pipeline(TEST_PIPELINE, mode='mirror')
    with pytest.raises(ValueError, match='direction'):
        flip_tta_pipeline(TEST_PIPELINE, directions=())


def test_equivariant_model_text_aware_vs_plain_flip():
    """For a model that is right about flipped images with mirrored
    sentences, the text-aware TTA gives back the plain view; MMSeg's flip
    (same sentence on the mirrored image) averages the opposite side in."""
    images = [_image(2), _image(3)]
    tta = ReferringTTAModel(module=SideModel())
    with torch.no_grad():
        plain = tta.test_step(_batch(
            flip_tta_pipeline(TEST_PIPELINE)[:-1] + [
                dict(type='TestTimeAug', transforms=[[
                    dict(type='TextAwareRandomFlip', prob=0.)]] + [
                        [TEST_PIPELINE[-1]]])], images, TEXTS))
        aware = tta.test_step(_batch(flip_tta_pipeline(TEST_PIPELINE),
                                     images, TEXTS))
        mmseg_flip = tta.test_step(_batch(
            flip_tta_pipeline(TEST_PIPELINE, mode='plain'), images, TEXTS))
    assert len(aware) == len(plain) == len(mmseg_flip) == 2
    for p, a, m in zip(plain, aware, mmseg_flip):
        torch.testing.assert_close(a.seg_logits.data, p.seg_logits.data)
        assert torch.equal(a.pred_sem_seg_input.data,
                           p.pred_sem_seg_input.data)
        assert (m.seg_logits.data - p.seg_logits.data).abs().max() > 0.3
        assert not torch.equal(m.pred_sem_seg.data, p.pred_sem_seg.data)


@pytest.fixture(scope='module')
def tiny_model():
    cfg = tiny_segmentor_cfg(data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    # open PWAM's gates (zero at init) so that the sentence shapes the mask
    for name, p in model.named_parameters():
        if 'gate' in name:
            torch.nn.init.normal_(p, std=0.5)
    return model.eval()


def _module_view(model, img, text):
    """The model's own prediction (MMSeg path) on one image + sentence:
    raw logits at the original size and at the input size."""
    data = _batch(TEST_PIPELINE, [img], [text])
    with torch.no_grad():
        sample = model.test_step(data)[0]
        pre = model.data_preprocessor(data, False)
        logits_in = model.inference(pre['inputs'],
                                    [s.metainfo for s in
                                     pre['data_samples']])[0]
    return sample.seg_logits.data, logits_in


def test_merged_logits_are_the_mean_of_the_two_readings(tiny_model):
    """With a real (tiny) referring segmentor: merged = mean of softmax of
    (image, sentence) and of the flip back of (mirrored image, mirrored
    sentence); MMSeg's flip (mirrored image, same sentence) differs."""
    img, text = _image(4), 'the tank on the left'
    gt = (_image(5)[..., 0] > 128).astype(np.uint8)
    tta = ReferringTTAModel(module=tiny_model)
    with torch.no_grad():
        aware = tta.test_step(_batch(flip_tta_pipeline(TEST_PIPELINE),
                                     [img], [text], [gt]))
        mmseg_flip = tta.test_step(_batch(
            flip_tta_pipeline(TEST_PIPELINE, mode='plain'), [img], [text]))
    assert len(aware) == 1
    merged = aware[0]
    ori_a, in_a = _module_view(tiny_model, img, text)
    ori_b, in_b = _module_view(tiny_model, np.ascontiguousarray(
        img[:, ::-1]), 'the tank on the right')
    ori_c, _ = _module_view(tiny_model, np.ascontiguousarray(img[:, ::-1]),
                            text)
    flip = (lambda t: t.flip(dims=(2, )))
    expected = (ori_a.softmax(0) + flip(ori_b).softmax(0)) / 2
    assert merged.seg_logits.data.shape == (2, 64, 64)
    torch.testing.assert_close(merged.seg_logits.data, expected,
                               atol=1e-5, rtol=1e-4)
    assert torch.equal(merged.pred_sem_seg.data,
                       expected.argmax(0, keepdim=True))
    expected_in = (in_a.softmax(0) + flip(in_b).softmax(0)) / 2
    assert merged.pred_sem_seg_input.data.shape == (1, 48, 48)
    assert torch.equal(merged.pred_sem_seg_input.data,
                       expected_in.argmax(0, keepdim=True))
    # the sample the evaluator sees: the sentence as written, the ground
    # truth as loaded, no flip
    assert merged.metainfo['text'] == text and not merged.metainfo['flip']
    plain_gt = Compose(TEST_PIPELINE)(_result(img, text, gt))[
        'data_samples'].gt_sem_seg.data
    assert torch.equal(merged.gt_sem_seg.data, plain_gt)
    # MMSeg's flip: the mirrored image read with the unchanged sentence
    control = (ori_a.softmax(0) + flip(ori_c).softmax(0)) / 2
    torch.testing.assert_close(mmseg_flip[0].seg_logits.data, control,
                               atol=1e-5, rtol=1e-4)
    assert (control - expected).abs().max() > 1e-4


def test_one_view_is_the_plain_prediction(tiny_model):
    """A TTA of the unflipped view alone predicts what the model does."""
    img, text = _image(6), 'the bright square at the top'
    one_view = TEST_PIPELINE[:-1] + [dict(type='TestTimeAug', transforms=[
        [dict(type='TextAwareRandomFlip', prob=0.)], [TEST_PIPELINE[-1]]])]
    with torch.no_grad():
        merged = ReferringTTAModel(module=tiny_model).test_step(
            _batch(one_view, [img], [text]))[0]
        plain = tiny_model.test_step(_batch(TEST_PIPELINE, [img],
                                            [text]))[0]
    assert torch.equal(merged.pred_sem_seg.data, plain.pred_sem_seg.data)
    assert torch.equal(merged.pred_sem_seg_input.data,
                       plain.pred_sem_seg_input.data)


def test_all_views_flipped_reports_the_unflipped_sample():
    """No unflipped view: the reference is the first view with its flip
    undone (ground truth flipped back, words swapped back)."""
    img = _image(7)
    gt = np.zeros((64, 64), np.uint8)
    gt[:, :10] = 1
    pipe = [dict(type='TestTimeAug', transforms=[
        [dict(type='TextAwareRandomFlip', prob=1.)], [TEST_PIPELINE[-1]]])]
    with torch.no_grad():
        merged = ReferringTTAModel(module=SideModel()).test_step(
            _batch(pipe, [img], ['the left tank'], [gt]))[0]
    assert merged.metainfo['text'] == 'the left tank'
    assert not merged.metainfo['flip']
    assert np.array_equal(merged.gt_sem_seg.data[0].numpy(), gt)
    # equivariant model: the left side is foreground
    pred = merged.pred_sem_seg.data[0]
    assert pred[:, :16].float().mean() > 0.9 and pred[:, -16:].sum() == 0
