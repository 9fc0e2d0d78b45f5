"""The CPU demo end to end, shrunk: data -> train -> test -> shuffled
control -> pictures -> report (the full run is measured in the README)."""
import json
import os.path as osp
import subprocess
import sys

import cv2
from tool_test_utils import REPO_ROOT, TOOL_TIMEOUT, tool_env


def test_demo_runs_end_to_end_and_reports(tmp_path):
    work = tmp_path / 'demo'
    data = tmp_path / 'data'
    cmd = [sys.executable, osp.join(REPO_ROOT, 'demo', 'synthetic_demo.py'),
           '--work-dir', str(work), '--data-root', str(data), '--iters', '4',
           '--num-train', '6', '--num-test', '4', '--num-overlays', '3']
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=tool_env(),
                          capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for step in ('1/5', '2/5', '3/5', '4/5', '5/5'):
        assert f'=== {step}' in out
    assert 'shuffled sentences: oIoU' in out
    report = json.loads((work / 'demo_report.json').read_text())
    for key in ('oIoU', 'mIoU', 'Prec@0.5'):
        assert 0.0 <= report['test'][key] <= 100.0
        assert 0.0 <= report['shuffled_sentences'][key] <= 100.0
    assert set(report['targets']) == {'oIoU_at_least_75',
                                      'shuffled_at_most_half'}
    # pictures: a contact sheet, a same-image sheet, one overlay per sample
    for name in ('demo_summary.png', 'demo_same_image.png'):
        img = cv2.imread(str(work / name))
        assert img is not None and img.shape[0] > 64 and img.shape[1] > 64
    assert len(list((work / 'overlays').glob('*.png'))) == 3
    # the data went to --data-root, with the settings it was made with
    assert (data / 'output_phrase_test.txt').is_file()
    assert json.loads((data / 'demo_data.json').read_text())[
        'num_images'] == dict(train=6, val=2, test=4)
    assert not (work / 'data').exists()
    # rerunning resumes from the checkpoint instead of starting over
    again = subprocess.run(cmd, cwd=REPO_ROOT, env=tool_env(),
                           capture_output=True, text=True,
                           timeout=TOOL_TIMEOUT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'reusing' in again.stdout
    assert 'Load checkpoint from' in again.stdout + again.stderr


def test_demo_refuses_checkpoints_of_another_config(tmp_path):
    work = tmp_path / 'demo'
    work.mkdir()
    (work / 'iter_10.pth').write_bytes(b'')
    (work / 'lavt_tiny_synthetic.py').write_text('# another model\n')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'demo', 'synthetic_demo.py'),
         '--work-dir', str(work), '--data-root', str(tmp_path / 'data')],
        cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True,
        timeout=TOOL_TIMEOUT)
    assert proc.returncode != 0
    assert 'holds checkpoints of another config' in proc.stderr
    assert not (tmp_path / 'data').exists()  # refused before any work


def test_demo_refuses_data_made_with_other_settings(tmp_path):
    """The demo and the tiny configs share data/synthetic_refseg: data
    generated with other settings is not silently trained on."""
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'output_phrase_test.txt').write_text('00000_0 the red car\n')
    (data / 'demo_data.json').write_text(json.dumps(dict(
        num_images=dict(train=1500, val=50, test=100), seed=0)))
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'demo', 'synthetic_demo.py'),
         '--work-dir', str(tmp_path / 'demo'), '--data-root', str(data),
         '--num-train', '6', '--num-test', '4'],
        cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True,
        timeout=TOOL_TIMEOUT)
    assert proc.returncode != 0
    assert f'{data} holds synthetic data generated with other settings' \
        in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / 'demo' / 'iter_4.pth').exists()
