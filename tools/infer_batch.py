"""Referring segmentation of many (image, sentence) rows; nothing lost.

    python tools/infer_batch.py MANIFEST CONFIG CHECKPOINT --out-dir OUT

MANIFEST is a CSV file with a header, or a JSONL file (one JSON object a
line), with the fields ``image`` and ``sentence`` and optionally ``name``
(the stem of the row's output files; default ``<row>_<image stem>``).
Aliases: ``path``/``img`` for image, ``text``/``expression`` for sentence,
``output``/``output_name`` for name. Relative image paths are read from the
manifest's folder (then from the current one).

Each row gets one output set in OUT (:func:`mmrrsis.apis.inference_scene`,
so GeoTIFF scenes of any size work): ``<name>_mask.tif`` (georeferenced
when the image is), ``<name>_polygons.geojson`` and ``<name>_overlay.png``.

Nothing is lost:

* a bad row (missing image, unreadable file, empty sentence, duplicate
  name, anything that fails) is recorded with its error and the job goes
  on; the exit code is 1 when a row failed, 0 otherwise;
* every output is written to a temporary name and renamed when complete,
  so a killed job leaves no half-written file under a final name;
* ``OUT/results.jsonl`` records each finished row (appended and fsync'ed
  row by row); a rerun of the same command skips the rows done (their
  outputs present) and retries the failed ones, so an interrupted job
  resumes;
* ``OUT/results.csv`` is the table of every row (row, image, sentence,
  name, status, output paths, mask area, score, seconds, error), rewritten
  atomically after each row.

An OUT folder that holds other files (and no ``results.jsonl``) is refused;
``--overwrite`` redoes every row, replacing the outputs.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import os.path as osp
import re
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODES = ('global_refine', 'whole', 'sliding')
LOG_NAME = 'results.jsonl'
TABLE_NAME = 'results.csv'
TABLE_FIELDS = ('row', 'image', 'sentence', 'name', 'status', 'mask',
                'polygons', 'overlay', 'mask_area', 'area_fraction', 'score',
                'seconds', 'error')
ALIASES = dict(image=('image', 'path', 'img', 'image_path', 'file'),
               sentence=('sentence', 'text', 'expression', 'caption'),
               name=('name', 'output', 'output_name', 'out_name'))


class ManifestError(ValueError):
    """The manifest as a whole cannot be read (not a single row)."""


def _field(record: dict, key: str) -> Optional[str]:
    for alias in ALIASES[key]:
        if alias in record and record[alias] is not None:
            return str(record[alias])
    return None


def read_manifest(path: str) -> List[dict]:
    """Rows of a CSV or JSONL manifest.

    Each row: ``row`` (1-based, in file order), ``line`` (line number in
    the file), ``image``, ``sentence``, ``name`` (None when absent) and
    ``error`` (a problem found while reading the row, e.g. invalid JSON or
    a missing field, else None).

    Raises:
        ManifestError: The file is missing, empty, of an unknown kind, or a
            CSV without an image or sentence column.
    """
    if not osp.isfile(path):
        raise ManifestError(f'manifest not found: {path}')
    with open(path, encoding='utf-8-sig') as f:
        text = f.read()
    if not text.strip():
        raise ManifestError(f'manifest is empty: {path}')
    ext = osp.splitext(path)[1].lower()
    first = text.lstrip()[:1]
    rows: List[dict] = []
    if ext in ('.jsonl', '.ndjson', '.json') or (ext != '.csv' and
                                                 first == '{'):
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            row = dict(row=len(rows) + 1, line=line_no, image=None,
                       sentence=None, name=None, error=None)
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError('not a JSON object')
            except ValueError as err:
                row['error'] = f'line {line_no}: invalid JSON ({err})'
                rows.append(row)
                continue
            for key in ('image', 'sentence', 'name'):
                row[key] = _field(record, key)
            rows.append(row)
    elif ext == '.csv' or ext in ('.txt', '.tsv'):
        dialect = 'excel-tab' if ext == '.tsv' else 'excel'
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        for key in ('image', 'sentence'):
            if not any(a in header for a in ALIASES[key]):
                raise ManifestError(
                    f'manifest {path} has no {key} column (header: '
                    f'{", ".join(header) or "none"}; expected one of '
                    f'{", ".join(ALIASES[key])})')
        for record in reader:
            if not any((v or '').strip() for v in record.values()
                       if isinstance(v, str)):
                continue
            row = dict(row=len(rows) + 1, line=reader.line_num, image=None,
                       sentence=None, name=None, error=None)
            for key in ('image', 'sentence', 'name'):
                row[key] = _field(record, key)
            if row['name'] is not None and not row['name'].strip():
                row['name'] = None
            rows.append(row)
    else:
        raise ManifestError(f'manifest {path}: expected a .csv or .jsonl '
                            'file')
    if not rows:
        raise ManifestError(f'manifest has no rows: {path}')
    return rows


def _safe_name(name: str) -> str:
    return re.sub(r'[^\w.-]+', '_', name).strip('._') or 'row'


def plan_rows(rows: List[dict], manifest: str) -> List[dict]:
    """Resolve image paths, output names and row problems (in place)."""
    base = osp.dirname(osp.abspath(manifest))
    seen: Dict[str, int] = {}
    for row in rows:
        image = row['image']
        if image is not None and image.strip():
            image = image.strip()
            if not osp.isabs(image):
                here = osp.join(base, image)
                image = here if osp.exists(here) or not osp.exists(
                    image) else osp.abspath(image)
            row['image_path'] = image
        else:
            row['image_path'] = None
        stem = Path(image).stem if image else 'row'
        name = row['name'] or f'{row["row"]:04d}_{stem}'
        row['out_name'] = _safe_name(name)
        if row['error'] is None:
            if row['image_path'] is None:
                row['error'] = f'row {row["row"]}: no image given'
            elif row['sentence'] is None or not row['sentence'].strip():
                row['error'] = f'row {row["row"]}: the sentence is empty'
            elif row['out_name'] in seen:
                row['error'] = (
                    f'row {row["row"]}: output name {row["out_name"]!r} '
                    f'is already used by row {seen[row["out_name"]]}')
        if row['error'] is None:
            seen[row['out_name']] = row['row']
        row['key'] = hashlib.sha1(json.dumps(
            [row['image_path'], row['sentence'], row['out_name']]).encode(
                'utf-8')).hexdigest()[:16]
    return rows


def _atomic_write_text(path: str, text: str) -> None:
    tmp = osp.join(osp.dirname(path), f'.tmp-{os.getpid()}-'
                   f'{osp.basename(path)}')
    with open(tmp, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_log(out_dir: str) -> Dict[int, dict]:
    """The last record of each row in ``results.jsonl`` (a line cut off by
    a kill is ignored)."""
    path = osp.join(out_dir, LOG_NAME)
    records: Dict[int, dict] = {}
    if not osp.isfile(path):
        return records
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and 'row' in rec:
                records[int(rec['row'])] = rec
    return records


def is_done(rec: Optional[dict], row: dict) -> bool:
    """Whether ``rec`` says ``row`` was finished and its outputs exist."""
    return bool(rec and rec.get('status') == 'ok'
                and rec.get('key') == row['key']
                and all(rec.get(k) and osp.isfile(rec[k])
                        for k in ('mask', 'polygons', 'overlay')))


def write_table(out_dir: str, rows: List[dict],
                records: Dict[int, dict]) -> str:
    """``results.csv``: one line per manifest row (atomic)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_FIELDS,
                            extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    for row in rows:
        rec = records.get(row['row'])
        if rec is None or rec.get('key') != row['key']:
            rec = dict(row=row['row'], image=row['image'],
                       sentence=row['sentence'], name=row['out_name'],
                       status='pending')
        writer.writerow({k: rec.get(k, '') for k in TABLE_FIELDS})
    path = osp.join(out_dir, TABLE_NAME)
    _atomic_write_text(path, buf.getvalue())
    return path


def check_out_dir(out_dir: str, overwrite: bool) -> None:
    """Refuse an output folder holding other things than a batch job's."""
    if osp.isfile(out_dir):
        raise FileExistsError(f'--out-dir is a file: {out_dir}')
    if not osp.isdir(out_dir) or overwrite:
        return
    if not osp.isfile(osp.join(out_dir, LOG_NAME)) and [
            n for n in os.listdir(out_dir) if not n.startswith('.tmp-')]:
        raise FileExistsError(
            f'output folder exists and holds files but no {LOG_NAME} of a '
            f'batch job: {out_dir} (pass --overwrite to write into it, or '
            'choose a new folder)')


def run_batch(model, manifest: str, out_dir: str, mode: str = 'global_refine',
              overwrite: bool = False, progress: bool = True,
              scene_kwargs: Optional[dict] = None,
              build_model: Optional[Callable] = None,
              log=print) -> Tuple[List[dict], Dict[int, dict]]:
    """Run every row of ``manifest`` not yet done; see the module docstring.

    Args:
        model: From :func:`mmrrsis.apis.init_model`; None to have
            ``build_model`` build it when a row needs running (a resumed
            job with nothing left to do loads no model).
        manifest (str): CSV or JSONL file.
        out_dir (str): Output folder.
        mode (str): :func:`inference_scene` mode.
        overwrite (bool): Redo every row.
        progress (bool): tqdm progress bar over the rows.
        scene_kwargs (dict, optional): More :func:`inference_scene`
            arguments (``window``, ``overlap``, ...).
        build_model (callable, optional): Returns the model.
        log (callable): Where messages go.

    Returns:
        tuple: the planned rows and the last record of each row.
    """
    from mmrrsis.apis.scene_inference import clean_stale_tmp, inference_scene
    rows = plan_rows(read_manifest(manifest), manifest)
    check_out_dir(out_dir, overwrite)
    os.makedirs(out_dir, exist_ok=True)
    stale = clean_stale_tmp(out_dir)
    if stale:
        log(f'removed {len(stale)} temporary file(s) an interrupted run '
            'left')
    log_path = osp.join(out_dir, LOG_NAME)
    if overwrite and osp.exists(log_path):
        os.remove(log_path)
    records = load_log(out_dir)
    todo = [r for r in rows if not is_done(records.get(r['row']), r)]
    done = len(rows) - len(todo)
    if done:
        log(f'resuming: {done} of {len(rows)} rows already done, skipped')
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit='row', desc='infer_batch')
    kwargs = dict(scene_kwargs or {})
    with open(log_path, 'a', encoding='utf-8') as log_file:
        for row in todo:
            start = time.perf_counter()
            rec = dict(row=row['row'], key=row['key'], image=row['image'],
                       sentence=row['sentence'], name=row['out_name'])
            try:
                if row['error'] is not None:
                    raise ValueError(row['error'])
                if model is None:
                    model = build_model()
                res = inference_scene(
                    model, row['image_path'], row['sentence'], out_dir,
                    mode=mode, name=row['out_name'], overwrite=True,
                    progress=False, **kwargs)
                rec.update(status='ok', mask=res.mask_path,
                           polygons=res.polygons_path,
                           overlay=res.overlay_path, mask_area=res.area_px,
                           area_fraction=round(res.area_fraction, 6),
                           score=round(res.score, 4), error='')
                if res.text_truncated:
                    rec['note'] = f'model read: {res.text_read}'
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - a bad row, go on
                msg = str(err)
                if not msg.startswith(f'row {row["row"]}'):
                    msg = f'row {row["row"]} ({row["image"]}): {msg}'
                rec.update(status='error', error=f'{type(err).__name__}: '
                           f'{msg}')
                log(f'error: {rec["error"]}')
            rec['seconds'] = round(time.perf_counter() - start, 3)
            log_file.write(json.dumps(rec) + '\n')
            log_file.flush()
            os.fsync(log_file.fileno())
            records[row['row']] = rec
            write_table(out_dir, rows, records)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    write_table(out_dir, rows, records)
    return rows, records


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Referring segmentation of the (image, sentence) rows '
        'of a CSV or JSONL manifest; resumable, bad rows recorded')
    parser.add_argument('manifest', help='CSV (with a header) or JSONL')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--mode', default='global_refine', choices=MODES)
    parser.add_argument('--window', type=int, default=None)
    parser.add_argument('--overlap', type=int, default=None)
    parser.add_argument('--all-components', action='store_true',
                        help='global_refine: refine every place the global '
                        'pass found, not only the most confident one')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every row, replacing earlier outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    for what, path in (('manifest', args.manifest), ('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} file not found: {path}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    import mmrrsis  # noqa: F401  (compat shims + registration)
    from mmrrsis.apis import init_model

    def build():
        return init_model(args.config, args.checkpoint, device=args.device)

    try:
        rows, records = run_batch(
            None, args.manifest, args.out_dir, mode=args.mode,
            overwrite=args.overwrite, progress=not args.no_progress,
            scene_kwargs=dict(
                window=args.window, overlap=args.overlap,
                select_ratio=None if args.all_components else 1.0),
            build_model=build)
    except (ManifestError, FileExistsError) as err:
        print(f'infer_batch: {err}', file=sys.stderr)
        return 2
    failed = [records[r['row']] for r in rows
              if records.get(r['row'], {}).get('status') == 'error']
    ok = sum(1 for r in rows
             if records.get(r['row'], {}).get('status') == 'ok')
    print(f'{ok} of {len(rows)} rows done, {len(failed)} failed; table: '
          f'{osp.join(args.out_dir, TABLE_NAME)}')
    for rec in failed:
        print(f'  {rec["error"]}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
