"""tools/infer_batch.py (issue 12, items 2 and 6): bad rows recorded and
skipped, reruns resume, a killed job leaves no half-written file."""
import csv
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

pytest.importorskip('rasterio')
from scene_test_utils import RedObjectModel, write_scene  # noqa: E402
from tool_test_utils import (CONFIG, REPO_ROOT, load_script,  # noqa: E402
                             tail, tool_env)

TOOL = osp.join(REPO_ROOT, 'tools', 'infer_batch.py')


def _tool():
    return load_script(TOOL, 'infer_batch_tool')


def _inputs(folder):
    """Two good scenes, a corrupt file; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tif = str(folder / 'scene.tif')
    write_scene(tif, h=300, w=400)
    png = str(folder / 'photo.png')
    write_scene(png, h=200, w=260, bands=3, dtype='uint8', crs=None,
                driver='PNG')
    junk = folder / 'broken.tif'
    junk.write_bytes(b'II*\x00' + b'\x00' * 50)
    return tif, png, str(junk)


def _csv_manifest(folder):
    _inputs(folder)
    path = folder / 'manifest.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image', 'sentence', 'name'])
        w.writerow(['scene.tif', 'the red vehicle at the bottom left', ''])
        w.writerow(['missing.tif', 'the red vehicle', ''])
        w.writerow(['broken.tif', 'the red vehicle', ''])
        w.writerow(['scene.tif', '   ', ''])
        w.writerow(['photo.png', 'the red vehicle', 'photo'])
        w.writerow(['scene.tif', 'the red vehicle', 'photo'])  # name taken
    return str(path)


def _table(out):
    with open(osp.join(out, 'results.csv'), newline='') as f:
        return list(csv.DictReader(f))


def test_bad_rows_recorded_and_rerun_resumes(tmp_path):
    tool = _tool()
    manifest = _csv_manifest(tmp_path / 'in')
    out = str(tmp_path / 'out')
    model = RedObjectModel()
    messages = []
    kwargs = dict(progress=False, scene_kwargs=dict(window=128),
                  log=messages.append)
    rows, records = tool.run_batch(model, manifest, out, **kwargs)
    table = _table(out)
    assert [r['status'] for r in table] == [
        'ok', 'error', 'error', 'error', 'ok', 'error']
    errors = [r['error'] for r in table]
    assert 'missing.tif' in errors[1] and 'not found' in errors[1]
    assert 'broken.tif' in errors[2] and 'OSError' in errors[2]
    assert 'row 4' in errors[3] and 'empty' in errors[3]
    assert 'row 6' in errors[5] and "'photo'" in errors[5]
    for row in (table[0], table[4]):
        for key in ('mask', 'polygons', 'overlay'):
            assert osp.isfile(row[key]), row
        assert int(row['mask_area']) > 0 and 0 < float(row['score']) <= 1
    assert table[0]['name'] == '0001_scene'
    assert table[4]['mask'].endswith('photo_mask.tif')
    assert not [n for n in os.listdir(out) if n.startswith('.tmp-')]
    calls = len(model.texts)
    assert calls > 0

    # rerun: the done rows are skipped (the model is not called for
    # them), the failed rows are tried again and fail again
    model2 = RedObjectModel()
    rows, records = tool.run_batch(model2, manifest, out, **kwargs)
    assert model2.texts == []
    assert any('2 of 6 rows already done' in m for m in messages)
    assert [r['status'] for r in _table(out)] == [
        'ok', 'error', 'error', 'error', 'ok', 'error']

    # an output lost since: that row only is redone
    os.remove(table[4]['overlay'])
    model3 = RedObjectModel()
    tool.run_batch(model3, manifest, out, **kwargs)
    assert model3.texts and set(model3.texts) == {'the red vehicle'}
    assert osp.isfile(table[4]['overlay'])

    # a folder with other files is refused; --overwrite redoes everything
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='notes|holds files'):
        tool.run_batch(RedObjectModel(), manifest, str(other), **kwargs)
    model4 = RedObjectModel()
    tool.run_batch(model4, manifest, out, overwrite=True, **kwargs)
    assert len(model4.texts) == calls


def test_interrupted_job_leaves_no_half_file_and_resumes(tmp_path,
                                                         monkeypatch):
    """The job is stopped while row 2 writes its files: nothing of row 2
    exists under a final name, the rerun cleans the temporary file and
    finishes; row 1 is not run again."""
    tool = _tool()
    folder = tmp_path / 'in'
    tif, png, _ = _inputs(folder)
    manifest = folder / 'rows.jsonl'
    manifest.write_text('\n'.join([
        json.dumps(dict(image=tif, sentence='the red vehicle')),
        json.dumps(dict(path=png, text='the red vehicle', output='p')),
        '{"image": "scene.tif", "sentence": ',  # a cut line
    ]) + '\n')
    out = tmp_path / 'out'
    import mmrrsis.apis.scene_inference as si
    real = si.inference_scene
    seen = []

    def stop_on_second(model, scene, text, out_dir, **kw):
        seen.append(scene)
        if len(seen) == 2:
            # half a file under the temporary name, then the 'kill'
            tmp = osp.join(out_dir, f'.tmp-999-{kw["name"]}_mask.tif')
            with open(tmp, 'wb') as f:
                f.write(b'II*\x00half')
            raise KeyboardInterrupt
        return real(model, scene, text, out_dir, **kw)

    monkeypatch.setattr(si, 'inference_scene', stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        tool.run_batch(RedObjectModel(), str(manifest), str(out),
                       progress=False, scene_kwargs=dict(window=128),
                       log=lambda m: None)
    names = os.listdir(out)
    assert not [n for n in names if n.startswith('p_')]
    assert '0001_scene_mask.tif' in names
    with open(out / 'results.jsonl') as f:
        assert [json.loads(ln)['row'] for ln in f] == [1]
    monkeypatch.setattr(si, 'inference_scene', real)

    model = RedObjectModel()
    messages = []
    tool.run_batch(model, str(manifest), str(out), progress=False,
                   scene_kwargs=dict(window=128), log=messages.append)
    assert any('temporary file' in m for m in messages)
    assert not [n for n in os.listdir(out) if n.startswith('.tmp-')]
    table = _table(str(out))
    assert [r['status'] for r in table] == ['ok', 'ok', 'error']
    assert 'line 3' in table[2]['error'] and 'invalid JSON' in \
        table[2]['error']
    assert set(model.texts) == {'the red vehicle'}
    assert all(osp.isfile(table[1][k]) for k in ('mask', 'overlay'))


def test_manifest_errors(tmp_path):
    tool = _tool()
    bad = tmp_path / 'm.csv'
    bad.write_text('picture,words\na.tif,x\n')
    with pytest.raises(tool.ManifestError, match='no image column'):
        tool.read_manifest(str(bad))
    with pytest.raises(tool.ManifestError, match='not found'):
        tool.read_manifest(str(tmp_path / 'none.csv'))
    empty = tmp_path / 'e.jsonl'
    empty.write_text('\n')
    with pytest.raises(tool.ManifestError, match='empty'):
        tool.read_manifest(str(empty))


def _wait_for_records(path, n, proc, timeout=240):
    start = time.time()
    while time.time() - start < timeout:
        if osp.isfile(path):
            with open(path) as f:
                if sum(1 for ln in f if ln.endswith('\n')) >= n:
                    return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def test_cli_killed_then_resumed(tmp_path, tiny_checkpoint):
    """The real tool, the tiny LAVT: SIGKILL after the first row, every
    file under a final name is whole, the rerun finishes the rest."""
    folder = tmp_path / 'in'
    tif, png, junk = _inputs(folder)
    rows = [dict(image=tif, sentence='the red vehicle')]
    for i in range(30):  # long enough that the kill lands mid-job
        name = f'chip{i}.png'
        img = np.full((64, 80, 3), 90, np.uint8)
        top = 10 + 5 * (i % 5)
        img[top:top + 20, 20:50] = (40, 45, 205)  # BGR red
        cv2.imwrite(str(folder / name), img)
        rows.append(dict(image=name, sentence='the red vehicle on the left'))
    rows.append(dict(image='broken.tif', sentence='the red vehicle'))
    manifest = folder / 'rows.jsonl'
    manifest.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    out = tmp_path / 'out'
    cmd = [sys.executable, TOOL, str(manifest), CONFIG, tiny_checkpoint,
           '--out-dir', str(out), '--no-progress']
    log1 = open(tmp_path / 'run1.log', 'w')
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=tool_env(),
                            stdout=log1, stderr=subprocess.STDOUT)
    try:
        got = _wait_for_records(str(out / 'results.jsonl'), 2, proc)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        log1.close()
    assert got, tail((tmp_path / 'run1.log').read_text())
    # every file under a final name is complete
    import rasterio
    for name in os.listdir(out):
        path = str(out / name)
        if name.startswith('.tmp-'):
            continue
        if name.endswith('.tif'):
            with rasterio.open(path) as src:
                src.read(1)
        elif name.endswith('.png'):
            assert cv2.imread(path) is not None, name
        elif name.endswith('.geojson'):
            with open(path) as f:
                json.load(f)
    done_before = len(open(out / 'results.jsonl').read().splitlines())
    assert done_before < len(rows)

    run2 = subprocess.run(cmd, cwd=REPO_ROOT, env=tool_env(),
                          capture_output=True, text=True, timeout=300)
    text = run2.stdout + run2.stderr
    assert run2.returncode == 1, tail(text)  # the broken row
    assert f'resuming: {done_before} of {len(rows)} rows' in text
    assert f'{len(rows) - 1} of {len(rows)} rows done, 1 failed' in text
    assert 'broken.tif' in text
    table = _table(str(out))
    assert [r['status'] for r in table] == ['ok'] * (len(rows) - 1) + [
        'error']
    for row in table[:-1]:
        with rasterio.open(row['mask']) as src:
            assert src.read(1).shape in ((300, 400), (64, 80))
    assert not [n for n in os.listdir(out) if n.startswith('.tmp-')]
