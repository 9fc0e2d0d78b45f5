"""A web page for one image and one sentence (Gradio).

``demo/web_demo.py CONFIG CKPT`` serves it. A user uploads an image (PNG,
JPEG, GeoTIFF of any band count and bit depth), types a sentence, and gets
the overlay (drawn by :func:`~mmrrsis.visualization.draw_referring_overlay`,
the same picture as every other demo) and the mask to download:

* a GeoTIFF (single band uint8, 1 = target) with the input's CRS and
  transform when the input is georeferenced (QGIS places it on the map);
* a PNG (0 = background, 255 = target, the datasets' mask convention)
  otherwise.

Images whose longest side is at most ``max_side`` go through
:func:`~mmrrsis.apis.inference_model`, exactly as from Python (the web page
returns the very mask it gives). Larger scenes go through
:func:`~mmrrsis.apis.inference_scene` (``global_refine``: read by windows,
the whole-scene words kept), whose mask is always a GeoTIFF.

Bad input (no image, an empty sentence, a file no decoder reads) raises
:class:`WebInputError` with a message for the page; the page shows it as
an error box, never a traceback.

Gradio is an optional extra (``pip install -r requirements/web.txt``):
only :func:`build_app` imports it, so ``import mmrrsis`` never needs it.
"""
import os
import os.path as osp
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

#: Longest image side run whole through ``inference_model``; larger
#: scenes go through ``inference_scene``.
DEFAULT_MAX_SIDE = 2048
UPLOAD_TYPES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp')
#: Pictures shown on the page are enlarged (nearest, integer factor) to at
#: least this side, so a 96-px chip and its caption stay readable.
DISPLAY_MIN_SIDE = 384


class WebInputError(ValueError):
    """Bad input from the page: the message is shown to the user."""


@dataclass
class WebResult:
    """What one request of the page produced.

    Attributes:
        overlay (np.ndarray): RGB uint8 picture, sentence banner above the
            image with the predicted mask (cyan fill and contour); small
            images are enlarged (:func:`enlarge`).
        mask_path (str): The mask file to download (GeoTIFF or PNG).
        mask (np.ndarray, optional): ``(H, W)`` uint8 mask, 1 = target,
            at the image size (None for scenes run by windows).
        georeferenced (bool): Whether the input carried a CRS/transform.
        text_read (str): What the model read of the sentence.
        area_fraction (float): Share of the image covered by the mask.
        notes (list[str]): Warnings for the user (truncated sentence,
            unknown words, no georeferencing).
    """
    overlay: np.ndarray
    mask_path: str
    mask: Optional[np.ndarray]
    georeferenced: bool
    text_read: str
    area_fraction: float
    notes: List[str] = field(default_factory=list)

    def summary(self) -> str:
        """One markdown line for the page."""
        kind = ('GeoTIFF with the input\'s CRS and transform'
                if self.mask_path.endswith('.tif') and self.georeferenced
                else 'GeoTIFF' if self.mask_path.endswith('.tif')
                else 'PNG, 255 = target')
        return (f'Mask covers **{100 * self.area_fraction:.2f}%** of the '
                f'image. Model read: "{self.text_read}". Download: '
                f'`{osp.basename(self.mask_path)}` ({kind}).')


# ------------------------------------------------------------- raster info
def enlarge(img: np.ndarray, min_side: int = DISPLAY_MIN_SIDE) -> np.ndarray:
    """``img`` (``(H, W[, C])``) repeated by the integer factor that brings
    its longest side to at least ``min_side`` (nearest: pixels stay
    pixels); unchanged when already that large."""
    factor = max(1, -(-int(min_side) // max(img.shape[:2])))
    if factor == 1:
        return img
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def raster_info(path: str) -> Optional[dict]:
    """Size and georeferencing of ``path`` read by rasterio (GDAL), without
    reading pixels; None when GDAL cannot open it.

    Returns:
        dict: ``height``, ``width``, ``count``, ``crs``, ``transform``,
        ``georeferenced`` (a CRS, or a non-identity transform that GDAL did
        not make up).
    """
    try:
        import rasterio
    except ImportError:  # pragma: no cover - a runtime requirement
        return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with rasterio.open(path) as ds:
                info = dict(height=ds.height, width=ds.width,
                            count=ds.count, crs=ds.crs,
                            transform=ds.transform)
    except Exception:  # noqa: BLE001 - RasterioIOError & co
        return None
    not_geo = any('NotGeoreferenced' in str(w.category) for w in caught)
    info['georeferenced'] = bool(info['crs']) or (
        not info['transform'].is_identity and not not_geo)
    return info


def write_mask(mask: np.ndarray, out_stem: str,
               info: Optional[dict]) -> str:
    """Write ``mask`` (``(H, W)``, 1 = target) for download.

    A GeoTIFF ``{out_stem}_mask.tif`` (uint8, 1 = target, deflate) with the
    CRS and transform of ``info`` when it is georeferenced, else a PNG
    ``{out_stem}_mask.png`` (0 / 255). Written under a temporary name, then
    renamed.

    Returns:
        str: The path written.
    """
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    if info is not None and info.get('georeferenced'):
        import rasterio
        path = out_stem + '_mask.tif'
        tmp = path + '.part'
        profile = dict(driver='GTiff', height=mask.shape[0],
                       width=mask.shape[1], count=1, dtype='uint8',
                       compress='deflate', crs=info['crs'],
                       transform=info['transform'])
        with rasterio.open(tmp, 'w', **profile) as dst:
            dst.write(mask[None])
    else:
        path = out_stem + '_mask.png'
        tmp = path + '.part.png'
        if not cv2.imwrite(tmp, mask * 255):
            raise OSError(f'could not write {path}')
    os.replace(tmp, path)
    return path


def preview_rgb(path: str, max_side: int = 1024) -> np.ndarray:
    """The image as the model sees it (band and bit-depth policy of the
    dataset reader), RGB uint8, longest side at most ``max_side``.

    Large rasters are read decimated (never whole).

    Raises:
        WebInputError: No decoder reads the file.
    """
    info = raster_info(path)
    try:
        if info is not None and max(info['height'],
                                    info['width']) > max_side:
            from .scene_inference import SceneReader
            with SceneReader(path, overview_size=max_side) as reader:
                bgr = reader.overview_bgr()
        else:
            from mmrrsis.datasets.transforms import read_rs_image
            bgr = read_rs_image(path, caller=osp.basename(path))
    except (OSError, ValueError) as err:
        raise WebInputError(f'cannot read {osp.basename(path)}: {err}') \
            from None
    return np.ascontiguousarray(enlarge(bgr[..., ::-1]))


# ----------------------------------------------------------------- request
def _check_request(image_path: Optional[str], text: Optional[str]) -> str:
    if not image_path:
        raise WebInputError(
            'No image: upload a PNG, JPEG or GeoTIFF (or click one of the '
            'examples) first.')
    if not osp.isfile(str(image_path)):
        raise WebInputError(f'The uploaded file is gone: {image_path}; '
                            'upload it again.')
    if text is None or not str(text).strip():
        raise WebInputError(
            'The sentence is empty: type what to segment, e.g. "the red '
            'vehicle at the bottom left".')
    return str(text).strip()


def _text_notes(meta: dict) -> List[str]:
    notes = []
    if meta.get('text_truncated'):
        notes.append(
            f'The sentence is past the text encoder\'s token limit '
            f'({meta.get("text_num_tokens")} tokens): the model read only '
            f'"{meta.get("text_read")}".')
    unknown = meta.get('text_num_unknown', 0)
    words = meta.get('text_num_words', 0)
    if words and unknown * 2 >= words:
        notes.append(f'{unknown} of {words} tokens of the sentence are '
                     'unknown to the text encoder: the mask cannot follow '
                     'them.')
    return notes


def segment_upload(model: torch.nn.Module,
                   image_path: Optional[str],
                   text: Optional[str],
                   out_dir: Union[str, Path],
                   max_side: int = DEFAULT_MAX_SIDE) -> WebResult:
    """Serve one request: segment what ``text`` names in the uploaded image
    and write the mask for download.

    Args:
        model: From :func:`~mmrrsis.apis.init_model`.
        image_path (str, optional): The uploaded file.
        text (str, optional): The referring expression.
        out_dir (str): Folder for the files of this request (created; one
            folder per request, so concurrent users never collide).
        max_side (int): Images whose longest side is larger go through
            :func:`~mmrrsis.apis.inference_scene` (``global_refine``).

    Returns:
        WebResult: Overlay, mask file and notes.

    Raises:
        WebInputError: No image, an empty sentence, or an unreadable file
            (the message names the file).
    """
    text = _check_request(image_path, text)
    image_path = str(image_path)
    name = osp.basename(image_path)
    os.makedirs(str(out_dir), exist_ok=True)
    stem = osp.join(str(out_dir), Path(name).stem or 'image')
    info = raster_info(image_path)
    notes = []
    if info is not None and max(info['height'], info['width']) > max_side:
        return _segment_scene(model, image_path, text, str(out_dir), info)

    from mmrrsis.datasets.transforms import read_rs_image
    from mmrrsis.visualization import draw_referring_overlay
    from .inference import inference_model
    try:
        bgr = read_rs_image(image_path, caller=name)
    except (OSError, ValueError) as err:
        raise WebInputError(f'cannot read {name}: {err}') from None
    result = inference_model(model, image_path, text)
    mask = result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    meta = result.metainfo
    text_read = meta.get('text_read', text)
    notes += _text_notes(meta)
    if name.lower().endswith(('.tif', '.tiff')) and not (
            info and info['georeferenced']):
        notes.append(f'{name} has no georeferencing: the mask is a PNG in '
                     'pixel coordinates.')
    # drawn on the enlarged image so that a small chip's caption is legible
    overlay = draw_referring_overlay(
        np.ascontiguousarray(enlarge(bgr[..., ::-1])), text,
        pred_mask=enlarge(mask), text_read=text_read)
    mask_path = write_mask(mask, stem, info)
    return WebResult(
        overlay=overlay, mask_path=mask_path, mask=mask,
        georeferenced=bool(info and info['georeferenced']),
        text_read=text_read,
        area_fraction=float(np.count_nonzero(mask)) / mask.size,
        notes=notes)


def _segment_scene(model, image_path: str, text: str, out_dir: str,
                   info: dict) -> WebResult:
    """A large scene: :func:`inference_scene` (windows, bounded memory)."""
    from .scene_inference import inference_scene
    try:
        res = inference_scene(model, image_path, text, out_dir,
                              overwrite=True, progress=False)
    except (OSError, ValueError) as err:
        raise WebInputError(
            f'cannot segment {osp.basename(image_path)}: {err}') from None
    overlay = cv2.imread(res.overlay_path, cv2.IMREAD_COLOR)[..., ::-1]
    notes = list(res.notes)
    notes.append(f'{res.width} x {res.height} px scene: segmented by '
                 f'windows ({res.mode}); the mask is a GeoTIFF.')
    if res.text_truncated:
        notes.append('The sentence is past the text encoder\'s token '
                     f'limit: the model read only "{res.text_read}".')
    return WebResult(
        overlay=np.ascontiguousarray(overlay), mask_path=res.mask_path,
        mask=None, georeferenced=res.georeferenced, text_read=res.text_read,
        area_fraction=res.area_fraction, notes=notes)


# ---------------------------------------------------------------- examples
def make_examples(out_dir: Union[str, Path], num: int = 4,
                  img_size: int = 96,
                  seed: int = 0) -> List[Tuple[str, str]]:
    """Synthetic examples for the page's gallery.

    Draws ``num`` scenes with the synthetic generator
    (:func:`~mmrrsis.datasets.synthetic.generate_synthetic_refseg`, the
    data of the CPU demo) and keeps one sentence per scene, as PNG files
    (lossless: the model sees the same pixels). Reuses a previous run's
    files in ``out_dir``.

    Returns:
        list[tuple[str, str]]: ``(image path, sentence)`` pairs.
    """
    out_dir = Path(out_dir)
    listing = out_dir / 'examples.txt'
    if listing.is_file():
        pairs = [ln.rstrip('\n').split('\t', 1)
                 for ln in listing.read_text().splitlines() if ln.strip()]
        if pairs and all(osp.isfile(p) for p, _ in pairs):
            return [(p, t) for p, t in pairs]
    from mmrrsis.datasets.synthetic import generate_synthetic_refseg
    raw = out_dir / 'synthetic'
    summary = generate_synthetic_refseg(
        str(raw), num_images=dict(test=int(num)), img_size=int(img_size),
        seed=seed, overwrite=True)
    pairs, seen = [], set()
    for s in summary['samples']:
        if s['scene'] in seen:
            continue
        seen.add(s['scene'])
        img = cv2.imread(str(raw / 'images' / f'{s["id"]}.tif'),
                         cv2.IMREAD_COLOR)
        png = out_dir / f'example_{len(pairs)}.png'
        cv2.imwrite(str(png), img)
        pairs.append((str(png), s['text']))
    shutil.rmtree(raw, ignore_errors=True)
    listing.write_text(''.join(f'{p}\t{t}\n' for p, t in pairs))
    return pairs


# --------------------------------------------------------------------- app
def build_app(model: torch.nn.Module,
              work_dir: Optional[Union[str, Path]] = None,
              examples: Sequence[Tuple[str, str]] = (),
              max_side: int = DEFAULT_MAX_SIDE,
              title: str = 'Referring remote sensing segmentation'):
    """The Gradio page around :func:`segment_upload`.

    Args:
        model: From :func:`~mmrrsis.apis.init_model`.
        work_dir (str, optional): Where request outputs go (one
            sub-folder per request); a temporary folder when None.
        examples: ``(image, sentence)`` pairs for the gallery
            (:func:`make_examples`).
        max_side (int): See :func:`segment_upload`.
        title (str): Page title.

    Returns:
        gradio.Blocks: Call ``.launch(server_name=..., server_port=...)``.

    Element ids (for browser tests): ``image-file``, ``sentence``,
    ``run-button``, ``overlay``, ``mask-file``, ``summary``, ``examples``.
    """
    try:
        import gradio as gr
    except ImportError as err:
        raise ImportError(
            'the web demo needs gradio: pip install -r requirements/web.txt '
            '(or pip install "mmrrsis[web]")') from err
    work_dir = str(work_dir or tempfile.mkdtemp(prefix='mmrrsis_web_'))
    os.makedirs(work_dir, exist_ok=True)

    def on_upload(path):
        if not path:
            return None
        try:
            return preview_rgb(path)
        except WebInputError as err:
            gr.Warning(str(err))
            return None

    def on_run(path, text):
        request_dir = tempfile.mkdtemp(prefix='req_', dir=work_dir)
        try:
            res = segment_upload(model, path, text, request_dir,
                                 max_side=max_side)
        except WebInputError as err:
            raise gr.Error(str(err), title='Cannot segment',
                           print_exception=False) from None
        except Exception as err:  # noqa: BLE001 - shown, not a traceback
            raise gr.Error(f'{type(err).__name__}: {err}',
                           title='Inference failed') from None
        for note in res.notes:
            gr.Warning(note)
        return res.overlay, res.mask_path, res.summary()

    with gr.Blocks(title=title) as app:
        gr.Markdown(
            f'## {title}\nUpload an image (PNG, JPEG, GeoTIFF: any band '
            'count, 8 or 16 bit), type a sentence naming one object, press '
            '**Segment**. The mask downloads as a GeoTIFF with the input\'s '
            'CRS and transform when the input is georeferenced, else as a '
            'PNG (255 = target).')
        with gr.Row():
            with gr.Column():
                file_in = gr.File(label='Image or GeoTIFF',
                                  file_types=list(UPLOAD_TYPES),
                                  type='filepath', elem_id='image-file')
                preview = gr.Image(label='Input (as the model sees it)',
                                   type='numpy', interactive=False,
                                   elem_id='preview')
                text_in = gr.Textbox(
                    label='Sentence', lines=2, elem_id='sentence',
                    placeholder='the red vehicle at the bottom left')
                run = gr.Button('Segment', variant='primary',
                                elem_id='run-button')
            with gr.Column():
                # no label box: it would hide the banner's sentence
                overlay = gr.Image(label='Prediction (cyan)', type='numpy',
                                   interactive=False, elem_id='overlay',
                                   format='png', show_label=False)
                mask_out = gr.File(label='Mask', interactive=False,
                                   elem_id='mask-file')
                summary = gr.Markdown(elem_id='summary')
        if examples:
            gr.Examples(
                examples=[[p, p, t] for p, t in examples],
                inputs=[preview, file_in, text_in], elem_id='examples',
                label='Synthetic examples (click one, then Segment)')
        file_in.upload(on_upload, file_in, preview)
        run.click(on_run, [file_in, text_in], [overlay, mask_out, summary],
                  api_name='segment')
        text_in.submit(on_run, [file_in, text_in],
                       [overlay, mask_out, summary])
    return app


def launch_theme():
    """A theme with system fonts only (the default fetches web fonts,
    which an offline machine cannot reach)."""
    import gradio as gr
    fonts = ['ui-sans-serif', 'system-ui', 'sans-serif']
    mono = ['ui-monospace', 'monospace']
    return gr.themes.Default(font=fonts, font_mono=mono)
