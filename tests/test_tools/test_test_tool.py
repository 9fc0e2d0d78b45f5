"""``tools/test.py`` (with ``--show-dir`` and ``--out``) and
``tools/dist_test.sh``."""
import collections
import json
import sys

import cv2
import numpy as np
import pytest
from tool_test_utils import (CONFIG, METRIC_KEYS, cfg_options, free_port,
                             parse_metrics, run_tool, tail, tool_env,
                             val_iters_per_rank)

TEST_BATCH = 2


@pytest.fixture(scope='module')
def single_test_run(refseg_data, tiny_checkpoint, tmp_path_factory):
    """One ``tools/test.py --show-dir --out`` run: (output, metrics,
    show_dir, out_dir). Categories are derived with the synthetic set's
    class words."""
    tmp = tmp_path_factory.mktemp('test_tool')
    show_dir = tmp / 'show'
    out_dir = tmp / 'out'
    opts = cfg_options(refseg_data['root'],
                       **{'test_dataloader.batch_size': TEST_BATCH,
                          'test_dataloader.dataset.category_words':
                          'synthetic'})
    rc, out = run_tool(
        [sys.executable, 'tools/test.py', CONFIG, tiny_checkpoint,
         '--work-dir', tmp / 'work', '--show-dir', show_dir,
         '--out', out_dir, '--cfg-options', *opts], tmp / 'test.log')
    assert rc == 0, f'tools/test.py exited {rc}:\n{tail(out, 80)}'
    return out, parse_metrics(out, 'test'), show_dir, out_dir


def test_test_py_metrics(single_test_run, refseg_data):
    out, metrics, _, _ = single_test_run
    assert set(metrics) == set(METRIC_KEYS), metrics
    for key, value in metrics.items():
        assert 0.0 <= value <= 100.0, (key, value)
    n = refseg_data['num_test']
    k = val_iters_per_rank(n, world_size=1, batch_size=TEST_BATCH)
    assert f'Iter(test) [{k}/{k}]' in out, tail(out)
    assert f'{n} expressions' in out, tail(out)


def test_test_py_show_dir(single_test_run, refseg_data):
    _, _, show_dir, _ = single_test_run
    assert show_dir.is_dir()
    pngs = sorted(show_dir.glob('*.png'))
    test_ids = refseg_data['test_ids']
    # one overlay per expression, straight into show_dir, none overwritten
    assert len(pngs) == len(test_ids) == refseg_data['num_test'], (
        [p.name for p in pngs])
    assert len({p.name for p in pngs}) == len(pngs)
    # named {image stem}_s{sample_idx}: stems are the ids of the split file
    stems = collections.Counter(p.stem.rsplit('_s', 1)[0] for p in pngs)
    assert stems == collections.Counter(test_ids)
    idxs = sorted(int(p.stem.rsplit('_s', 1)[1]) for p in pngs)
    assert len(set(idxs)) == len(idxs)
    for png in pngs:
        img = cv2.imread(str(png))
        assert img is not None and img.ndim == 3, png
        assert img.shape[0] > 64  # banner with the sentence above the panels


def test_test_py_out_json_and_tables(single_test_run, refseg_data):
    """``--out``: the json holds the per-size / per-category summary and
    every expression with its category and size; the tables are printed."""
    from mmrrsis.datasets.categories import CategoryMatcher
    out, metrics, _, out_dir = single_test_run
    assert 'IoU by object size' in out and 'IoU by category' in out, tail(out)
    with open(out_dir / 'per_sample_iou.json') as f:
        report = json.load(f)
    n = refseg_data['num_test']
    summary, samples = report['summary'], report['samples']
    assert len(samples) == n
    assert summary['overall']['count'] == n
    assert summary['overall']['oIoU'] == pytest.approx(metrics['oIoU'],
                                                       abs=1e-3)
    assert sum(v['count'] for v in summary['by_size'].values()) == n
    assert sum(v['count'] for v in summary['by_category'].values()) == n
    match = CategoryMatcher('synthetic')
    for rec in samples:
        assert rec['category'] == match(rec['text'])
        assert rec['size'] in summary['by_size']
    named = {r['category'] for r in samples if r['category']}
    assert named and named <= set(summary['by_category'])
    for cat in named:
        recs = [r for r in samples if r['category'] == cat]
        figs = summary['by_category'][cat]
        assert figs['count'] == len(recs)
        oiou = 100 * sum(r['intersection'] for r in recs) / max(
            1, sum(r['union'] for r in recs))
        assert figs['oIoU'] == pytest.approx(oiou, abs=1e-3)
    # the size buckets (COCO thresholds at the 96x96 evaluation size) are
    # also logged
    line = [ln for ln in out.splitlines() if 'Iter(test)' in ln][-1]
    for bucket, figs in summary['by_size'].items():
        if figs['count'] and bucket != 'empty':
            assert f'oIoU/{bucket}: ' in line, line


def test_dist_test_matches_single(single_test_run, refseg_data,
                                  tiny_checkpoint, tmp_path):
    _, single, _, _ = single_test_run
    opts = cfg_options(refseg_data['root'],
                       **{'test_dataloader.batch_size': TEST_BATCH})
    rc, out = run_tool(
        ['bash', 'tools/dist_test.sh', CONFIG, tiny_checkpoint, 2,
         '--work-dir', tmp_path / 'work', '--cfg-options', *opts],
        tmp_path / 'dist_test.log', env=tool_env(PORT=free_port()))
    assert rc == 0, f'dist_test.sh exited {rc}:\n{tail(out, 80)}'
    assert 'GPU number: 2' in out
    n = refseg_data['num_test']
    k = val_iters_per_rank(n, world_size=2, batch_size=TEST_BATCH)
    assert f'Iter(test) [{k}/{k}]' in out, tail(out)
    # the padded duplicate of the distributed sampler is dropped
    assert f'{n} expressions' in out, tail(out)
    dist = parse_metrics(out, 'test')
    assert set(dist) == set(single)
    for key in single:
        assert dist[key] == pytest.approx(single[key], abs=1e-3), (
            key, single, dist)


@pytest.fixture(scope='module')
def test_split_only(refseg_data, tmp_path_factory):
    """A copy of the tiny set with the test split only: its phrase file and
    the images / masks it names (no train or val split file)."""
    import shutil
    from pathlib import Path
    src = Path(refseg_data['root'])
    dst = tmp_path_factory.mktemp('test_split_only') / 'data'
    for sub in ('images', 'masks'):
        (dst / sub).mkdir(parents=True)
    for ref_id in refseg_data['test_ids']:
        for sub in ('images', 'masks'):
            shutil.copy(src / sub / f'{ref_id}.tif', dst / sub)
    shutil.copy(src / 'output_phrase_test.txt', dst)
    return dst


def test_show_dir_with_the_test_split_only(test_split_only, refseg_data,
                                           tiny_checkpoint, tmp_path):
    """``--show-dir`` on a machine holding only the test split: no
    train-split file is read (MMSeg's hook builds the train loop)."""
    show_dir = tmp_path / 'show'
    opts = cfg_options(test_split_only)
    rc, out = run_tool(
        [sys.executable, 'tools/test.py', CONFIG, tiny_checkpoint,
         '--work-dir', tmp_path / 'work', '--show-dir', show_dir,
         '--cfg-options', *opts], tmp_path / 'test.log')
    assert rc == 0, f'tools/test.py exited {rc}:\n{tail(out, 80)}'
    assert 'output_phrase_train' not in out
    assert set(parse_metrics(out, 'test')) == set(METRIC_KEYS)
    pngs = sorted(show_dir.glob('*.png'))
    assert len(pngs) == refseg_data['num_test'], [p.name for p in pngs]


def test_data_root_flag(test_split_only, refseg_data, tiny_checkpoint,
                        tmp_path):
    """``--data-root DIR`` points every split at DIR: no per-split
    ``--cfg-options`` keys needed (they default to data/synthetic_refseg,
    which does not hold this set)."""
    opts = [o for o in cfg_options(test_split_only)
            if '.dataset.data_root=' not in o]
    rc, out = run_tool(
        [sys.executable, 'tools/test.py', CONFIG, tiny_checkpoint,
         '--work-dir', tmp_path / 'work', '--data-root', test_split_only,
         '--cfg-options', *opts], tmp_path / 'test.log')
    assert rc == 0, f'tools/test.py exited {rc}:\n{tail(out, 80)}'
    assert f"data_root = '{test_split_only}'" in out  # the dumped config
    assert f'{refseg_data["num_test"]} expressions' in out, tail(out)


def test_png_as_checkpoint(tmp_path, refseg_data):
    """A PNG passed as the checkpoint: told what it is, at once, and not
    told to switch the safe loader off."""
    png = tmp_path / 'scene.png'
    assert cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
    rc, out = run_tool(
        [sys.executable, 'tools/test.py', CONFIG, png, '--work-dir',
         tmp_path / 'work', '--cfg-options',
         *cfg_options(refseg_data['root'])], tmp_path / 'test.log')
    assert rc != 0
    assert f'{png} is a PNG image, not a checkpoint' in out, tail(out)
    assert 'MMRRSIS_UNSAFE_LOAD' not in out
    assert 'Traceback' not in out
