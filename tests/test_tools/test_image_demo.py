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
