"""``demo/image_demo.py``: overlay PNG with the sentence, mask area."""
import os.path as osp
import re
import sys

import cv2
from tool_test_utils import CONFIG, REPO_ROOT, run_tool, tail

DEMO = osp.join(REPO_ROOT, 'demo', 'image_demo.py')


def _first_test_image(refseg_data):
    return osp.join(refseg_data['root'], 'images',
                    refseg_data['test_ids'][0] + '.tif')


def test_image_demo_writes_overlay(refseg_data, tiny_checkpoint, tmp_path):
    img_path = _first_test_image(refseg_data)
    out_file = tmp_path / 'sub' / 'overlay.png'
    rc, out = run_tool(
        [sys.executable, DEMO, img_path, 'the red building', CONFIG,
         tiny_checkpoint, '--out-file', out_file, '--device', 'cpu'],
        tmp_path / 'demo.log')
    assert rc == 0, f'image_demo.py exited {rc}:\n{tail(out)}'
    match = re.search(r'mask area: ([\d.]+) of the image \((\d+)/(\d+)', out)
    assert match, tail(out)
    frac, area, total = float(match[1]), int(match[2]), int(match[3])
    src = cv2.imread(img_path)
    assert total == src.shape[0] * src.shape[1]  # mask at the original size
    assert 0.0 <= frac <= 1.0 and abs(frac - area / total) < 1e-4

    assert out_file.is_file(), tail(out)
    drawn = cv2.imread(str(out_file))
    assert drawn is not None and drawn.ndim == 3
    # the banner with the sentence sits above the image
    assert drawn.shape[0] > src.shape[0]
    assert drawn.shape[1] >= src.shape[1]


def test_image_demo_missing_files(refseg_data, tmp_path):
    img_path = _first_test_image(refseg_data)
    missing = tmp_path / 'nope.tif'
    rc, out = run_tool(
        [sys.executable, DEMO, missing, 'the red building', CONFIG,
         tmp_path / 'x.pth'], tmp_path / 'missing_img.log', timeout=60)
    assert rc != 0
    assert 'image file not found' in out and str(missing) in out, out

    ckpt = tmp_path / 'missing.pth'
    rc, out = run_tool(
        [sys.executable, DEMO, img_path, 'the red building', CONFIG, ckpt],
        tmp_path / 'missing_ckpt.log', timeout=60)
    assert rc != 0
    assert 'checkpoint file not found' in out and str(ckpt) in out, out
    assert 'Traceback' not in out


def test_image_demo_corrupt_image_before_the_model_loads(tmp_path):
    """A corrupt image is reported before the model is built: the
    checkpoint here is no checkpoint at all, and is never read."""
    bad = tmp_path / 'corrupt.tif'
    bad.write_bytes(b'II*\x00' + b'\x07' * 200)
    not_a_ckpt = tmp_path / 'never_read.pth'
    not_a_ckpt.write_bytes(b'not a checkpoint')
    rc, out = run_tool(
        [sys.executable, DEMO, bad, 'the red building', CONFIG, not_a_ckpt],
        tmp_path / 'corrupt.log', timeout=120)
    assert rc != 0
    assert 'image_demo: ' in out and 'cannot decode image file' in out, out
    assert str(bad) in out and 'Traceback' not in out, out
    assert 'never_read.pth' not in out, out


def test_image_demo_non_ascii_and_long_sentence(refseg_data, tiny_checkpoint,
                                                tmp_path):
    img_path = _first_test_image(refseg_data)
    long = ' '.join(
        ['le b\u00e2timent rouge pr\u00e8s du r\u00e9servoir'] * 30)
    out_file = tmp_path / 'overlay.png'
    rc, out = run_tool(
        [sys.executable, DEMO, img_path, long, CONFIG, tiny_checkpoint,
         '--out-file', out_file], tmp_path / 'long.log')
    assert rc == 0, tail(out)
    match = re.search(r"sentence cut at the token limit \((\d+) tokens\); "
                      r"the model read: '(.+)'", out)
    assert match, tail(out)
    assert int(match[1]) > 100 and long.startswith(match[2])
    assert len(match[2]) < len(long) // 5
    drawn = cv2.imread(str(out_file))
    src = cv2.imread(img_path)
    # the banner holds the part read (+ a note), not 30 repetitions
    assert drawn.shape[0] - src.shape[0] < 12 * src.shape[0]
