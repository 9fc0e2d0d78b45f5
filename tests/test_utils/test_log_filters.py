"""One log line per noisy source (issue 14, item 8): frozen parameters,
MMSeg's advice warnings, OpenCV's libtiff warnings on GeoTIFFs."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmrrsis.utils.log_filters import (VERBOSE_ENV, frozen_summary,
                                       group_parameter_names, tiff_tags)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_FROZEN = 5 + 6 * 16  # MiniLM-sized: embeddings + 6 layers x 16


def _minilm_names():
    names = [f'text_encoder.hf.model.embeddings.{n}' for n in (
        'word_embeddings.weight', 'position_embeddings.weight',
        'token_type_embeddings.weight', 'LayerNorm.weight', 'LayerNorm.bias')]
    for layer in range(6):
        names += [f'text_encoder.hf.model.encoder.layer.{layer}.p{i}.weight'
                  for i in range(16)]
    return names


def test_group_parameter_names_merges_layers():
    names = _minilm_names() + ['fusions.3.gate.0.weight',
                               'fusions.3.gate.2.weight']
    assert group_parameter_names(names) == [
        ('text_encoder.hf.model.embeddings', 5),
        ('text_encoder.hf.model.encoder.layer.0-5', 96),
        ('fusions.3', 2),
    ]
    # non-consecutive indices stay apart
    assert group_parameter_names(['a.layer.10.w', 'a.layer.11.w',
                                  'a.layer.3.w']) == [('a.layer.10-11', 2),
                                                      ('a.layer.3', 1)]
    line = frozen_summary(names, {n: 10 for n in names})
    assert line.startswith('103 parameters (1.0K values) have '
                           'requires_grad=False')
    assert VERBOSE_ENV in line and '\n' not in line


def test_tiff_tags(tmp_path):
    tifffile = pytest.importorskip('tifffile')
    path = tmp_path / 'geo.tif'
    tifffile.imwrite(str(path), np.zeros((8, 8, 3), np.uint8),
                     photometric='rgb',
                     extratags=[(33550, 'd', 3, (1.0, 1.0, 0.0), False)])
    tags = tiff_tags(path.read_bytes())
    assert 256 in tags and 33550 in tags
    assert tiff_tags(b'\x89PNG\r\n\x1a\n' + b'\x00' * 20) == []
    assert tiff_tags(b'II*\x00\xff\xff\xff\x00') == []  # offset past the end


SCRIPT = textwrap.dedent('''
    import sys, warnings
    import numpy as np, tifffile, torch
    import mmrrsis
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmseg.models import build_loss
    from mmseg.models.utils import resize
    # OpenCV's decoder (masks; images whose TIFFs rasterio cannot open):
    # read_rs_image reads TIFF images with rasterio, without libtiff's
    # warnings
    from mmrrsis.datasets.transforms.load_rs_image_from_file import (
        _decode_cv2, read_rs_image)

    MMLogger.get_instance('log_filter_test', log_level='INFO')

    # a model with a frozen MiniLM-sized text encoder (101 parameters)
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = torch.nn.ModuleDict(dict(
                word_embeddings=torch.nn.Embedding(4, 2),
                position_embeddings=torch.nn.Embedding(4, 2),
                token_type_embeddings=torch.nn.Embedding(4, 2),
                LayerNorm=torch.nn.LayerNorm(2)))
            self.layer = torch.nn.ModuleList(
                torch.nn.Sequential(*[torch.nn.Linear(2, 2)
                                      for _ in range(8)]) for _ in range(6))
    model = torch.nn.Module()
    model.text_encoder = Encoder()
    model.head = torch.nn.Linear(2, 2)
    for p in model.text_encoder.parameters():
        p.requires_grad = False
    # (MMEngine walks parameters one by one only with a paramwise_cfg)
    build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.1, weight_decay=0.01),
        paramwise_cfg=dict(norm_decay_mult=0.0)))

    # MMSeg's advice, again after every catch_warnings (as transformers does)
    x = torch.zeros(1, 1, 6, 6)
    for _ in range(3):
        with warnings.catch_warnings():
            pass
        build_loss(dict(type='CrossEntropyLoss'))
        resize(x, size=(24, 24), mode='bilinear', align_corners=True)

    # three GeoTIFFs
    for i in range(3):
        path = sys.argv[1] + f'/geo{i}.tif'
        tifffile.imwrite(path, np.full((8, 8, 3), i, np.uint8),
                         photometric='rgb', extratags=[
                             (33550, 'd', 3, (1.0, 1.0, 0.0), False),
                             (33922, 'd', 6, (0, 0, 0, 5e5, 4e6, 0), False),
                             (34735, 'H', 8, (1, 1, 0, 1, 1024, 0, 1, 1),
                              False)])
        with open(path, 'rb') as f:
            assert _decode_cv2(f.read()).shape == (8, 8, 3)
        assert read_rs_image(path).shape == (8, 8, 3)
    print('done')
''')


def _run(tmp_path, **env_extra):
    env = dict(os.environ)
    for key in ('PYTHONWARNINGS', VERBOSE_ENV, 'OPENCV_LOG_LEVEL'):
        env.pop(key, None)
    env.update(HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT, **env_extra)
    script = tmp_path / 'noisy.py'
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)],
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and 'done' in out, out[-3000:]
    return out.splitlines()


def _count(lines, needle):
    return sum(needle in line for line in lines)


def test_one_line_per_noisy_source(tmp_path):
    lines = _run(tmp_path)
    log = '\n'.join(lines)
    # frozen parameters: one summary line instead of 101
    assert _count(lines, 'is skipped since its requires_grad=False') == 0
    summary = [ln for ln in lines if 'have requires_grad=False' in ln]
    assert len(summary) == 1, log
    assert f'{NUM_FROZEN} parameters' in summary[0]
    assert 'text_encoder.embeddings (5)' in summary[0]
    assert 'text_encoder.layer.0-5 (96)' in summary[0]
    # MMSeg's advice: once each, one line each (no source-line echo)
    assert _count(lines, '``build_loss`` would be deprecated') == 1, log
    assert _count(lines, 'avg_non_ignore') == 1, log
    assert _count(lines, 'When align_corners=True') == 1, log
    assert _count(lines, 'warnings.warn(') == 0, log
    # OpenCV's libtiff warnings: gone, one note for the first GeoTIFF
    assert _count(lines, 'Unknown field with tag 3') == 0, log
    notes = [ln for ln in lines if 'GeoTIFF georeferencing tags' in ln]
    assert len(notes) == 1, log
    assert 'ModelPixelScale (33550)' in notes[0]


def test_verbose_switch_restores_every_line(tmp_path):
    lines = _run(tmp_path, **{VERBOSE_ENV: '1'})
    assert _count(lines,
                  'is skipped since its requires_grad=False') == NUM_FROZEN
    assert _count(lines, 'have requires_grad=False') == 0
    # 3 tags x 3 files
    assert _count(lines, 'Unknown field with tag 3') == 3 * 3
