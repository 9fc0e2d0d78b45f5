"""Large-scene inference (issue 12, items 1 and 6): windowed reads, whole-
scene word meaning, georeferenced outputs, bad input.

Most tests drive :func:`inference_scene` with a stand-in model whose
behaviour is known (it segments red objects; told "at the bottom left" it
keeps only the red object in the bottom-left ninth of what it sees), so
the modes can be compared exactly in a second. The tests at the end run
the real tiny LAVT (2-iteration checkpoint) end to end.
"""
import json
import os
import os.path as osp
import tracemalloc
import warnings

import cv2
import numpy as np
import pytest
import torch

rasterio = pytest.importorskip('rasterio')
from rasterio.features import rasterize  # noqa: E402
from scene_test_utils import (RedObjectModel, utm_georef,  # noqa: E402
                              write_scene)

from mmrrsis.apis import (SceneReader, inference_scene,  # noqa: E402
                          object_phrase)
from mmrrsis.datasets.transforms import read_rs_image  # noqa: E402

CRS_UTM, TRANSFORM = utm_georef()


def _read_mask(path):
    with rasterio.open(path) as src:
        return src.read(1), src.crs, src.transform, src.dtypes[0]


def _iou(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.fixture(scope='module')
def scene_tif(tmp_path_factory):
    path = tmp_path_factory.mktemp('scene') / 'scene.tif'
    target = write_scene(str(path))
    return str(path), target


# ---------------------------------------------------------------- tests
def test_object_phrase():
    assert object_phrase('the red vehicle at the bottom left') == \
        'the red vehicle'
    assert object_phrase('the large storage tank') == 'the storage tank'
    assert object_phrase('the building to the left of the white tank') == \
        'the building'
    assert object_phrase('the building at the right of the image') == \
        'the building'
    assert object_phrase('the leftmost small white airplane') == \
        'the white airplane'
    assert object_phrase('the largest') == 'the largest'  # nothing left


def test_global_refine_keeps_whole_scene_words(scene_tif, tmp_path):
    """'at the bottom left' names one of four identical vehicles: the
    global pass finds it, windows trace it at full resolution; plain
    sliding windows each find their own bottom-left vehicle."""
    path, target = scene_tif
    text = 'the red vehicle at the bottom left'
    ious, results = {}, {}
    for mode in ('global_refine', 'whole', 'sliding'):
        model = RedObjectModel(scale=128)  # windows at native resolution
        res = inference_scene(model, path, text, tmp_path / mode, mode=mode,
                              window=128, overlap=32, global_size=256,
                              progress=False)
        mask, crs, transform, dtype = _read_mask(res.mask_path)
        ious[mode] = _iou(mask, target)
        results[mode] = (res, model)
        assert mask.shape == target.shape and dtype == 'uint8'
        assert crs == CRS_UTM and transform == TRANSFORM
    assert ious['global_refine'] > 0.98, ious
    assert ious['global_refine'] > ious['whole'] + 0.04, ious
    assert ious['sliding'] < 0.6, ious  # other vehicles come in
    # the global pass reads the whole sentence, windows the object only
    res, model = results['global_refine']
    assert model.texts[0] == text and model.input_sizes[0] == (256, 256)
    assert set(model.texts[1:]) == {'the red vehicle'}
    assert res.window_text == 'the red vehicle'
    # refinement ran only around the located vehicle, not over the scene
    assert 0 < res.windows < results['sliding'][0].windows / 4
    assert set(results['sliding'][1].texts) == {text}
    assert results['whole'][0].windows == 0


def test_outputs_georeferenced_and_polygons_on_mask(scene_tif, tmp_path):
    path, _ = scene_tif
    # every vehicle with select_ratio=None (the four tie here anyway)
    res = inference_scene(RedObjectModel(), path, 'the red vehicle',
                          tmp_path, mode='global_refine', window=256,
                          global_size=256, progress=False, name='cars',
                          select_ratio=None)
    assert res.mask_path == str(tmp_path / 'cars_mask.tif')
    mask, crs, transform, _ = _read_mask(res.mask_path)
    assert crs == CRS_UTM and transform == TRANSFORM
    assert res.crs == 'EPSG:32633' and res.georeferenced
    assert int(mask.sum()) == res.area_px > 0
    with open(res.polygons_path) as f:
        gj = json.load(f)
    assert gj['type'] == 'FeatureCollection'
    assert gj['crs']['properties']['name'] == 'EPSG:32633'
    feats = gj['features']
    assert len(feats) == res.num_polygons == 4  # four vehicles
    for feat in feats:
        props = feat['properties']
        assert props['sentence'] == 'the red vehicle'
        assert 0 < props['score'] <= 1 and props['area_px'] > 0
        # map coordinates: inside the scene's footprint
        xs = [p[0] for p in feat['geometry']['coordinates'][0]]
        assert 500000 <= min(xs) and max(xs) <= 500000 + 2000 * 0.5
    # the polygons, burnt back into the grid, are exactly the mask
    burnt = rasterize([(f['geometry'], 1) for f in feats],
                      out_shape=mask.shape, transform=transform,
                      dtype='uint8')
    np.testing.assert_array_equal(burnt, mask)
    # the overlay: the downscaled scene under a banner, mask drawn in cyan
    overlay = cv2.imread(res.overlay_path)
    assert overlay is not None and overlay.shape[1] == 1024
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.tmp-')]


def test_global_pass_keeps_its_most_confident_place():
    from mmrrsis.apis.scene_inference import _select_located
    prob = np.zeros((40, 60), np.float32)
    prob[5:15, 5:15] = 0.9    # the most confident place
    prob[20:30, 30:50] = 0.7  # a doubt elsewhere
    prob[32:36, 5:9] = 0.88   # nearly as confident
    best = _select_located(prob, 0.5, 1.0)
    assert (best > 0.5).sum() == 100 and best[10, 10] == pytest.approx(0.9)
    near = _select_located(prob, 0.5, 0.95)
    assert (near > 0.5).sum() == 116
    np.testing.assert_array_equal(_select_located(prob, 0.5, None), prob)


def test_window_reader_never_holds_the_scene(scene_tif, tmp_path):
    """Reads are bounded by block + 2 windows; numpy's peak allocation
    during a whole run (overview, global pass, refinement, GeoTIFF,
    polygons, picture) stays far below the scene's size."""
    from mmrrsis.visualization import draw_referring_overlay
    path, target = scene_tif
    scene_bytes = 1500 * 2000 * 4 * 2
    # sliding windows over the whole scene: every read is a block + halo
    res = inference_scene(RedObjectModel(), path, 'the red vehicle',
                          tmp_path / 'sliding', mode='sliding', window=128,
                          overlap=32, block_size=256, overview_size=512,
                          progress=False)
    assert res.max_read_pixels <= (256 + 2 * 128) ** 2
    assert res.max_read_pixels < 1500 * 2000 / 10
    mask, *_ = _read_mask(res.mask_path)
    # every vehicle found, blended across windows and blocks without seams
    assert res.area_px == pytest.approx(4 * 70 * 110, rel=0.05)
    assert _iou(mask, target) < 0.3  # all four, not one
    # fonts are loaded once per process (their tables are not scene data)
    draw_referring_overlay(np.zeros((8, 8, 3), np.uint8), 'the red vehicle')
    tracemalloc.start()
    try:
        res = inference_scene(RedObjectModel(), path, 'the red vehicle',
                              tmp_path / 'refine', window=128, overlap=32,
                              block_size=256, overview_size=512,
                              global_size=256, progress=False,
                              select_ratio=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < scene_bytes / 4, (peak, scene_bytes)
    assert res.max_read_pixels <= (256 + 2 * 128) ** 2
    assert res.area_px == pytest.approx(4 * 70 * 110, rel=0.05)


def test_reader_policy_matches_dataset_policy(tmp_path):
    """A scene no larger than the overview gets exactly the dataset
    policy's image (first three bands as RGB, uint16 scaled by the image's
    min/max: ``to_bgr3`` + ``rescale_to_uint8``); a larger one applies the
    overview's scaling to every window."""
    import tifffile

    from mmrrsis.datasets.transforms import to_bgr3
    from mmrrsis.datasets.transforms.load_rs_image_from_file import \
        rescale_to_uint8
    path = str(tmp_path / 'small.tif')
    write_scene(path, h=300, w=400)
    bands = tifffile.imread(path)  # (H, W, 4) uint16
    assert bands.shape == (300, 400, 4) and bands.dtype == np.uint16
    expected = rescale_to_uint8(to_bgr3(bands, bgr_order=False))
    with SceneReader(path, overview_size=512) as reader:
        assert reader.count == 4 and reader.indexes == [1, 2, 3]
        np.testing.assert_array_equal(reader.overview_bgr(), expected)
        np.testing.assert_array_equal(
            reader.read_bgr((100, 50, 64, 80)), expected[100:164, 50:130])
    with SceneReader(path, overview_size=100) as reader:
        assert reader.overview_bgr().shape == (75, 100, 3)
        win = reader.read_bgr((0, 0, 300, 400))
        # one scaling everywhere: at most the extremes the overview
        # missed are clipped
        assert np.abs(win.astype(int) - expected).max() <= 16
    # a plain 3-band PNG: the dataset reader's own image
    png = str(tmp_path / 'small.png')
    write_scene(png, h=300, w=400, bands=3, dtype='uint8', crs=None,
                driver='PNG')
    with SceneReader(png) as reader:
        np.testing.assert_array_equal(reader.overview_bgr(),
                                      read_rs_image(png))


def test_plain_png_pixel_coordinates(tmp_path):
    path = str(tmp_path / 'photo.png')
    target = write_scene(path, h=600, w=800, bands=3, dtype='uint8',
                         crs=None, driver='PNG')
    res = inference_scene(RedObjectModel(), path,
                          'the red vehicle at the bottom left',
                          tmp_path / 'out', window=256, global_size=256,
                          progress=False)
    assert not res.georeferenced and res.crs is None
    assert len(res.notes) == 1 and 'no georeferencing' in res.notes[0]
    mask, crs, transform, _ = _read_mask(res.mask_path)
    assert crs is None and transform.is_identity
    assert _iou(mask, target) > 0.9
    with open(res.polygons_path) as f:
        gj = json.load(f)
    assert 'crs' not in gj
    xs = [p[0] for p in gj['features'][0]['geometry']['coordinates'][0]]
    ys = [p[1] for p in gj['features'][0]['geometry']['coordinates'][0]]
    # pixel coordinates (column, row from the top left)
    assert min(xs) == pytest.approx(80, abs=1) and max(ys) > 480


def test_bad_input(tmp_path, scene_tif):
    model = RedObjectModel()
    out = tmp_path / 'out'
    # missing file, not a raster, cut-off GeoTIFF: named
    with pytest.raises(FileNotFoundError, match='nowhere.tif'):
        inference_scene(model, tmp_path / 'nowhere.tif', 'x', out)
    junk = tmp_path / 'junk.tif'
    junk.write_bytes(b'this is not a raster' * 10)
    with pytest.raises(OSError, match='junk.tif'):
        inference_scene(model, junk, 'the red vehicle', out)
    cut = tmp_path / 'cut.tif'
    src = open(scene_tif[0], 'rb').read()
    cut.write_bytes(src[:len(src) // 3])
    with pytest.raises(OSError, match='cut.tif'):
        inference_scene(model, cut, 'the red vehicle', out, window=256,
                        progress=False)
    # nothing half-written is left by the failed runs
    assert not out.exists() or not [
        n for n in os.listdir(out) if n.startswith('.tmp-')]
    # empty sentence, bad mode
    with pytest.raises(ValueError, match='empty'):
        inference_scene(model, scene_tif[0], '  ', out)
    with pytest.raises(ValueError, match='mode'):
        inference_scene(model, scene_tif[0], 'x', out, mode='tiles')
    # existing outputs are refused, replaced with overwrite=True
    res = inference_scene(model, scene_tif[0], 'the red vehicle', out,
                          mode='whole', progress=False)
    with pytest.raises(FileExistsError, match='scene_mask.tif'):
        inference_scene(model, scene_tif[0], 'the red vehicle', out,
                        mode='whole', progress=False)
    res2 = inference_scene(model, scene_tif[0], 'the red vehicle', out,
                           mode='whole', progress=False, overwrite=True)
    assert res2.mask_path == res.mask_path


# ------------------------------------------------- the real tiny model
@pytest.fixture(scope='module')
def tiny_model(tiny_checkpoint):
    from tool_test_utils import CONFIG

    from mmrrsis.apis import init_model
    torch.set_num_threads(1)
    return init_model(CONFIG, tiny_checkpoint)


def test_real_model_end_to_end(tiny_model, scene_tif, tmp_path):
    path, _ = scene_tif
    for mode in ('whole', 'global_refine'):
        res = inference_scene(tiny_model, path, 'the red vehicle', tmp_path,
                              mode=mode, name=mode, window=500,
                              progress=False)
        mask, crs, transform, _ = _read_mask(res.mask_path)
        assert crs == CRS_UTM and transform == TRANSFORM
        assert mask.shape == (1500, 2000) and set(np.unique(mask)) <= {0, 1}
        assert int(mask.sum()) == res.area_px
        assert osp.isfile(res.overlay_path) and osp.isfile(
            res.polygons_path)


def test_real_model_whole_matches_inference_model(tiny_model, tmp_path):
    """On a scene no larger than the network input's overview, 'whole'
    is inference_model's mask."""
    from mmrrsis.apis import inference_model
    path = str(tmp_path / 'chip.tif')
    write_scene(path, h=90, w=120, bands=3, dtype='uint8')
    res = inference_scene(tiny_model, path, 'the red vehicle', tmp_path,
                          mode='whole', progress=False)
    mask, *_ = _read_mask(res.mask_path)
    ref = inference_model(tiny_model, path, 'the red vehicle')
    np.testing.assert_array_equal(mask, ref.pred_sem_seg.data[0].numpy())


def test_real_model_long_sentence_warns_once(tiny_checkpoint, scene_tif,
                                             tmp_path):
    from tool_test_utils import CONFIG

    from mmrrsis.apis import init_model
    model = init_model(CONFIG, tiny_checkpoint)
    long = ' '.join(['the red vehicle at the bottom left'] * 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        res = inference_scene(model, scene_tif[0], long, tmp_path,
                              mode='sliding', window=700, overlap=100,
                              progress=False)
    trunc = [w for w in caught if 'truncated' in str(w.message)]
    assert len(trunc) == 1, [str(w.message)[:80] for w in caught]
    assert res.windows > 1 and res.text_truncated
    assert len(res.text_read) < len(long)
    with open(res.polygons_path) as f:
        gj = json.load(f)
    for feat in gj['features']:
        assert feat['properties']['text_read'] == res.text_read
