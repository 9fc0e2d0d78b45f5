"""GeoTIFFs written by GDAL (rasterio) load with every band: OpenCV alone
reads a 4-band uint16 GeoTIFF as one grey band."""
import numpy as np
import pytest

from mmrrsis.datasets.transforms import LoadRSImageFromFile
from mmrrsis.datasets.transforms import \
    load_rs_image_from_file as loader_module
from mmrrsis.datasets.transforms import read_rs_image

rasterio = pytest.importorskip('rasterio')


def _write(path, bands, crs='EPSG:32633', **profile):
    """Write (C, H, W) ``bands`` as a GeoTIFF with a CRS and a transform."""
    from rasterio.transform import from_origin
    c, h, w = bands.shape
    with rasterio.open(str(path), 'w', driver='GTiff', height=h, width=w,
                       count=c, dtype=bands.dtype.name, crs=crs,
                       transform=from_origin(500000, 4100000, 10, 10),
                       **profile) as ds:
        ds.write(bands)
    return str(path)


def _bands(c, h=30, w=40, dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    hi = 256 if dtype == np.uint8 else 4000
    bands = rng.integers(0, hi, (c, h, w), dtype=dtype)
    if dtype == np.uint16:
        bands[0, 0, 0], bands[2, 0, 1] = 300, 3700  # min / max of bands 1-3
        bands[:3] = np.clip(bands[:3], 300, 3700)
        bands[3] = 9000  # NIR far brighter: dropped, not in the scaling
    return bands


def test_opencv_alone_reads_one_band(tmp_path):
    """The bug: what OpenCV makes of the file."""
    path = _write(tmp_path / 'scene.tif', _bands(4))
    with open(path, 'rb') as f:
        img = loader_module._decode_cv2(f.read())
    assert img is not None and img.ndim == 2  # one grey band


def test_four_band_uint16_geotiff(tmp_path):
    bands = _bands(4)
    path = _write(tmp_path / 'scene.tif', bands)
    img = read_rs_image(path)
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8
    # B, G, R = bands 3, 2, 1; one min/max (300..3700) over the 3 kept
    rgb = bands[:3].astype(np.float64)
    expected = np.rint((rgb - 300) * 255.0 / 3400).astype(np.uint8)
    for c, band in enumerate((2, 1, 0)):
        np.testing.assert_array_equal(img[..., c], expected[band])
    assert img.min() == 0 and img.max() == 255
    # the three channels differ (not one band replicated)
    assert not np.array_equal(img[..., 0], img[..., 2])
    # the transform, and the large-scene reader, agree
    res = LoadRSImageFromFile()(dict(img_path=path))
    np.testing.assert_array_equal(res['img'], img)
    assert res['img_shape'] == res['ori_shape'] == (30, 40)
    from mmrrsis.apis.scene_inference import SceneReader
    with SceneReader(path) as reader:
        np.testing.assert_array_equal(reader.overview_bgr(), img)


def test_three_band_uint8_geotiff(tmp_path):
    bands = _bands(3, dtype=np.uint8, seed=1)
    path = _write(tmp_path / 'rgb.tif', bands, tiled=True, blockxsize=16,
                  blockysize=16)
    img = read_rs_image(path)
    assert img.dtype == np.uint8
    np.testing.assert_array_equal(img, np.moveaxis(bands, 0, -1)[..., ::-1])


def test_tiff_found_by_content_and_planar_five_bands(tmp_path):
    """A TIFF whatever its suffix; band-interleaved, more than 4 bands."""
    bands = _bands(5, seed=2).astype(np.uint16)
    path = _write(tmp_path / 'scene.raster', bands, interleave='band')
    img = read_rs_image(path)
    rgb = bands[:3].astype(np.float64)
    lo, hi = rgb.min(), rgb.max()
    expected = np.rint((rgb - lo) * 255.0 / (hi - lo)).astype(np.uint8)
    np.testing.assert_array_equal(img, np.moveaxis(expected, 0, -1)[..., ::-1])


def test_palette_tiff_uses_its_colour_map(tmp_path):
    idx = np.zeros((1, 8, 8), np.uint8)
    idx[0, :, 4:] = 1
    path = str(tmp_path / 'palette.tif')
    with rasterio.open(path, 'w', driver='GTiff', height=8, width=8,
                       count=1, dtype='uint8', photometric='palette') as ds:
        ds.write(idx)
        ds.write_colormap(1, {0: (255, 0, 0, 255), 1: (0, 0, 255, 255)})
    img = read_rs_image(path)
    assert img[0, 0].tolist() == [0, 0, 255]  # red, as B, G, R
    assert img[0, 7].tolist() == [255, 0, 0]  # blue


def test_without_rasterio_opencv_still_reads(tmp_path, monkeypatch):
    bands = _bands(3, dtype=np.uint8, seed=3)
    path = _write(tmp_path / 'rgb.tif', bands)
    monkeypatch.setattr(loader_module, '_decode_rasterio', lambda c: None)
    np.testing.assert_array_equal(read_rs_image(path),
                                  np.moveaxis(bands, 0, -1)[..., ::-1])
