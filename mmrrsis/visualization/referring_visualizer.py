"""Visualizer for referring segmentation: sentence banner + GT/pred panels."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from ..evaluation.metrics.refseg_metric import intersection_and_union

Color = Tuple[int, int, int]
MaskLike = Union[np.ndarray, torch.Tensor, PixelData]

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _mask_to_numpy(mask: MaskLike) -> np.ndarray:
    """Return an ``(H, W)`` label map from a tensor, array or PixelData."""
    if isinstance(mask, PixelData):
        mask = mask.data
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f'Expected a (H, W) or (1, H, W) mask, got shape '
                         f'{tuple(mask.shape)}.')
    return mask


def _fit_mask(mask: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Resize a label map to ``shape`` (nearest) when sizes differ."""
    if mask.shape == tuple(shape):
        return mask
    return cv2.resize(
        mask.astype(np.uint8), (shape[1], shape[0]),
        interpolation=cv2.INTER_NEAREST)


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Make an ``HxWx3`` uint8 image out of grey, RGB or multi-band input."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f'Expected an HxW or HxWxC image, got shape '
                         f'{image.shape}.')
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] > 3:
        image = image[..., :3]
    if image.dtype != np.uint8:
        image = image.astype(np.float64)
        lo, hi = float(image.min()), float(image.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = ((image - lo) * scale).round().astype(np.uint8)
    return np.ascontiguousarray(image)


#: Default mask colours (RGB). Cyan for the prediction and green for the
#: truth: both far from the red, white, blue and yellow of typical targets
#: (roofs, vehicles, tanks); a dark outline under every contour keeps the
#: outline visible on bright, cyan or green objects too.
PRED_COLOR: Color = (0, 255, 255)
GT_COLOR: Color = (0, 255, 0)
OUTLINE_COLOR: Color = (0, 0, 0)


def _overlay(image: np.ndarray, mask: np.ndarray, color: Color, alpha: float,
             thickness: int,
             outline: Optional[Color] = OUTLINE_COLOR) -> np.ndarray:
    """Blend ``color`` over the foreground of ``mask`` and draw its contour.

    The contour is drawn twice: ``outline`` (dark) ``thickness + 2`` pixels
    wide, then ``color`` ``thickness`` wide on top, so the edge shows on
    any object, whatever its colour. The fill is translucent (``alpha``).
    Masks too small to fill visibly (a few pixels) still get the contour.
    """
    out = image.copy()
    fg = mask.astype(bool)
    if fg.any():
        col = np.array(color, dtype=np.float32)
        out[fg] = (image[fg].astype(np.float32) * (1.0 - alpha) +
                   col * alpha).round().clip(0, 255).astype(np.uint8)
        contours, _ = cv2.findContours(
            fg.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        if outline is not None:
            cv2.drawContours(out, contours, -1,
                             tuple(int(c) for c in outline), thickness + 2)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in color),
                         thickness)
    return out


# ------------------------------------------------------------ text drawing
#: Fonts tried for each character, in order: DejaVu Sans (bundled with
#: matplotlib: Latin, Greek, Cyrillic, many symbols), common system fonts for
#: CJK scripts, then matplotlib's Last Resort font, which draws a labelled
#: placeholder for any code point. A character no font covers is drawn as
#: U+FFFD. Why not OpenCV: its Hershey fonts draw ASCII only (non-ASCII
#: text used to come out as '?').
_SYSTEM_FALLBACK_FONTS = (
    '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
    '/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc',
    '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc',
    '/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf',
    '/System/Library/Fonts/PingFang.ttc',
    'C:/Windows/Fonts/msyh.ttc',
)
_FONT_CACHE: Dict[Tuple[str, int], object] = {}
_CMAP_CACHE: Dict[str, frozenset] = {}


def _matplotlib_font(name: str) -> Optional[str]:
    import importlib.util
    import os.path as osp
    spec = importlib.util.find_spec('matplotlib')
    if spec is None or not spec.submodule_search_locations:
        return None
    path = osp.join(list(spec.submodule_search_locations)[0], 'mpl-data',
                    'fonts', 'ttf', name)
    return path if osp.isfile(path) else None


def _font_paths() -> List[str]:
    import os.path as osp
    paths = [_matplotlib_font('DejaVuSans.ttf'),
             '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf']
    paths += [p for p in _SYSTEM_FALLBACK_FONTS if osp.isfile(p)]
    paths.append(_matplotlib_font('LastResortHE-Regular.ttf'))
    seen, out = set(), []
    for p in paths:
        if p and osp.isfile(p) and p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _coverage(path: str) -> frozenset:
    """Code points a font file maps (its cmap); empty if unreadable."""
    if path not in _CMAP_CACHE:
        try:
            from fontTools.ttLib import TTFont
            font = TTFont(path, lazy=True, fontNumber=0)
            _CMAP_CACHE[path] = frozenset(font.getBestCmap() or {})
            font.close()
        except Exception:  # noqa: BLE001 - any unreadable font is skipped
            _CMAP_CACHE[path] = frozenset()
    return _CMAP_CACHE[path]


def _pil_font(path: Optional[str], size: int):
    from PIL import ImageFont
    key = (path or '', size)
    if key not in _FONT_CACHE:
        if path is None:
            _FONT_CACHE[key] = ImageFont.load_default(size=size)
        else:
            _FONT_CACHE[key] = ImageFont.truetype(path, size=size)
    return _FONT_CACHE[key]


class _TextRenderer:
    """Draws Unicode text with per-character font fallback (PIL).

    Args:
        size (int): Font size in pixels.
    """

    def __init__(self, size: int) -> None:
        self.size = max(8, int(size))
        self.paths = _font_paths()
        self._choice: Dict[str, Optional[str]] = {}

    def _font_for(self, ch: str) -> Optional[str]:
        if ch not in self._choice:
            code = ord(ch)
            self._choice[ch] = next(
                (p for p in self.paths if code in _coverage(p)), None)
        return self._choice[ch]

    def runs(self, text: str) -> List[Tuple[str, object]]:
        """Split ``text`` into (substring, PIL font) runs."""
        runs: List[Tuple[str, object]] = []
        current, cur_path = '', None
        for ch in text:
            path = self._font_for(ch)
            if path is None and not ch.isspace():
                ch, path = '\ufffd', self._font_for('\ufffd')
            elif path is None:
                path = cur_path
            if current and path != cur_path:
                runs.append((current, _pil_font(cur_path, self.size)))
                current = ''
            current += ch
            cur_path = path
        if current:
            runs.append((current, _pil_font(cur_path, self.size)))
        return runs

    def width(self, text: str) -> float:
        return sum(font.getlength(t) for t, font in self.runs(text))

    def line_height(self) -> int:
        font = _pil_font(self.paths[0] if self.paths else None, self.size)
        ascent, descent = font.getmetrics()
        return int(ascent + descent)

    def draw(self, draw, xy: Tuple[int, int], text: str,
             fill: Color) -> None:
        x, y = xy
        for t, font in self.runs(text):
            draw.text((x, y), t, font=font, fill=tuple(fill))
            x += font.getlength(t)


def _wrap_lines(text: str, width: int, renderer: _TextRenderer) -> List[str]:
    """Greedily wrap ``text`` so that each line fits in ``width`` pixels.

    Words are measured with the renderer's fonts; a word wider than a line
    is split across lines.
    """

    def fits(line: str) -> bool:
        return renderer.width(line) <= width

    lines: List[str] = []
    for paragraph in text.splitlines() or ['']:
        current = ''
        for word in paragraph.split():
            candidate = f'{current} {word}' if current else word
            if fits(candidate):
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ''
            while word and not fits(word):
                cut = len(word) - 1
                while cut > 1 and not fits(word[:cut]):
                    cut -= 1
                # at least one character per line: a banner narrower than
                # one character (a thin image) used to loop for ever
                cut = max(1, cut)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _draw_banner(text_lines: Sequence[str], width: int,
                 renderer: _TextRenderer, bg_color: Color,
                 fg_color: Color) -> np.ndarray:
    """Render ``text_lines`` on a ``width``-wide banner (RGB uint8)."""
    from PIL import Image, ImageDraw
    line_h = renderer.line_height() + max(2, renderer.size // 5)
    pad = max(3, renderer.size // 2)
    height = 2 * pad + line_h * len(text_lines)
    banner = Image.new('RGB', (width, height), tuple(bg_color))
    draw = ImageDraw.Draw(banner)
    for i, line in enumerate(text_lines):
        renderer.draw(draw, (pad, pad + i * line_h), line, fg_color)
    return np.asarray(banner, dtype=np.uint8).copy()


def banner_text(text: Optional[str], text_read: Optional[str] = None) -> str:
    """The sentence as the banner shows it: what the model read, with
    ``' [...]'`` (and the number of characters cut) when it was truncated.

    Args:
        text (str, optional): The whole expression.
        text_read (str, optional): The part the model read (see
            ``HFTextEncoder.read_texts``); None or equal to ``text`` when
            nothing was cut.
    """
    if not text:
        return ''
    if text_read is None or text_read == text:
        return text
    return f'{text_read} [... {len(text) - len(text_read)} more ' \
        'characters not read: token limit]'


def _draw_tag(panel: np.ndarray, tag: str, color: Color,
              font_scale: float, thickness: int) -> None:
    """Write a small label (e.g. ``GT``) in the top-left corner, in place."""
    (w, h), base = cv2.getTextSize(tag, _FONT, font_scale, thickness)
    cv2.rectangle(panel, (0, 0), (w + 4, h + base + 4), (0, 0, 0), -1)
    cv2.putText(panel, tag, (2, h + 2), _FONT, font_scale, color, thickness,
                cv2.LINE_AA)


def draw_referring_overlay(image_rgb: np.ndarray,
                           text: Optional[str],
                           pred_mask: Optional[MaskLike] = None,
                           gt_mask: Optional[MaskLike] = None,
                           alpha: float = 0.5,
                           gt_color: Color = GT_COLOR,
                           pred_color: Color = PRED_COLOR,
                           iou: Optional[float] = None,
                           show_iou: bool = True,
                           ignore_index: int = 255,
                           empty_union_iou: float = 1.0,
                           draw_tags: bool = True,
                           banner_bg: Color = (32, 32, 32),
                           banner_fg: Color = (255, 255, 255),
                           text_read: Optional[str] = None,
                           outline_color: Optional[Color] = OUTLINE_COLOR,
                           banner_lines: Optional[int] = None) -> np.ndarray:
    """Draw a referring-segmentation result as one RGB image.

    The output is a text banner holding the (wrapped) sentence, and, when
    the ground truth is given, the per-sample IoU, stacked above the
    panels: the image with the ground-truth mask (green) on the left and
    the image with the predicted mask (cyan) on the right. Each mask is a
    translucent fill plus a contour outlined in a dark colour, visible on
    objects of any colour (a red mask on a red vehicle used to vanish).
    With only one mask there is one panel; with none the plain image.
    Masks use label 1 as the referred object; masks whose size differs
    from the image are resized (nearest).

    Layout guarantee (useful for tests and demos): the output height is
    ``banner_h + H`` with the panels in the last ``H`` rows, and the
    prediction panel occupies the last ``W`` columns. ``banner_lines``
    reserves a fixed number of text lines, so drawings of one image size
    are the same size and their panels align whatever the caption length
    (a longer caption still shows whole, growing the banner);
    :func:`contact_sheet` aligns the panels of drawings in a grid.

    Args:
        image_rgb (np.ndarray): ``HxW``, ``HxWx1``, ``HxWx3`` or ``HxWxC``
            image in RGB order (extra bands are dropped, non-uint8 data is
            min-max stretched).
        text (str, optional): The referring expression.
        pred_mask (np.ndarray | torch.Tensor | PixelData, optional):
            Predicted label map. Defaults to None.
        gt_mask (np.ndarray | torch.Tensor | PixelData, optional):
            Ground-truth label map. Defaults to None.
        alpha (float): Mask opacity. Defaults to 0.5.
        gt_color (tuple[int]): RGB colour of the GT. Defaults to green.
        pred_color (tuple[int]): RGB colour of the prediction.
            Defaults to cyan.
        iou (float, optional): IoU in ``[0, 1]`` to print; computed from
            the masks when None and both are given. Defaults to None.
        show_iou (bool): Print the IoU in the banner. Defaults to True.
        ignore_index (int): GT label ignored by the IoU. Defaults to 255.
        empty_union_iou (float): IoU shown when both masks are empty
            (same policy as :class:`RefSegMetric`). Defaults to 1.0.
        draw_tags (bool): Write ``GT`` / ``Pred`` on the panels.
            Defaults to True.
        banner_bg (tuple[int]): Banner background colour (RGB).
        banner_fg (tuple[int]): Banner text colour (RGB).
        text_read (str, optional): The part of ``text`` the model read
            (the text encoder truncates at ``max_length`` tokens). When it
            is shorter than ``text`` the banner shows it followed by a
            ``[... N more characters not read: token limit]`` note instead
            of the whole sentence. Defaults to None (draw ``text``).
        outline_color (tuple[int], optional): Dark outline drawn under
            each contour; None for none. Defaults to black.
        banner_lines (int, optional): Lines the banner reserves at least.
            Defaults to None (as many as the caption needs).

    The sentence is drawn with a Unicode font (DejaVu Sans, then system CJK
    fonts, then a placeholder glyph per code point), so non-ASCII text
    appears as written.

    Returns:
        np.ndarray: The drawn ``uint8`` RGB image.
    """
    image = _as_rgb_uint8(image_rgb)
    h, w = image.shape[:2]
    thickness = max(1, min(h, w) // 200)
    tag_scale = max(0.3, min(h, w) / 800.0)

    panels: List[np.ndarray] = []
    gt = pred = None
    if gt_mask is not None:
        gt = _fit_mask(_mask_to_numpy(gt_mask), (h, w))
        panel = _overlay(image, gt == 1, gt_color, alpha, thickness,
                         outline_color)
        if draw_tags:
            _draw_tag(panel, 'GT', gt_color, tag_scale, 1)
        panels.append(panel)
    if pred_mask is not None:
        pred = _fit_mask(_mask_to_numpy(pred_mask), (h, w))
        panel = _overlay(image, pred == 1, pred_color, alpha, thickness,
                         outline_color)
        if draw_tags:
            _draw_tag(panel, 'Pred', pred_color, tag_scale, 1)
        panels.append(panel)
    if not panels:
        panels.append(image.copy())

    gap = max(2, w // 100) if len(panels) > 1 else 0
    total_w = w * len(panels) + gap * (len(panels) - 1)
    body = np.empty((h, total_w, 3), dtype=np.uint8)
    body[:] = banner_bg
    for i, panel in enumerate(panels):
        x0 = i * (w + gap)
        body[:, x0:x0 + w] = panel

    shown = banner_text(text, text_read)
    if show_iou and gt is not None:
        if iou is None and pred is not None:
            inter, union = intersection_and_union(
                pred, gt, ignore_index=ignore_index)
            iou = inter / union if union > 0 else empty_union_iou
        if iou is not None:
            shown = f'[IoU {iou * 100:.1f}%] {shown}'
    font_scale = float(np.clip(total_w / 1400.0, 0.35, 1.0))
    renderer = _TextRenderer(size=round(30 * font_scale))
    pad = 2 * max(3, renderer.size // 2)
    lines = _wrap_lines(shown, max(1, total_w - pad), renderer)
    if banner_lines is not None and len(lines) < banner_lines:
        lines = lines + [''] * (banner_lines - len(lines))
    banner = _draw_banner(lines, total_w, renderer, banner_bg, banner_fg)
    return np.ascontiguousarray(np.concatenate([banner, body], axis=0))


def contact_sheet(tiles: Sequence[np.ndarray],
                  panel_height: int,
                  cols: int = 4,
                  scale: int = 1,
                  gap: int = 4,
                  background: Color = (255, 255, 255)) -> np.ndarray:
    """Lay drawings of :func:`draw_referring_overlay` out in a grid with
    their panels aligned, whatever the length of each caption.

    Each drawing is a banner above panels ``panel_height`` rows high (the
    layout guarantee of :func:`draw_referring_overlay`). In a row of the
    grid every banner is extended downwards (in its own background colour)
    to the tallest one, so all panels start on the same line; padding a
    drawing at its bottom instead, as a plain grid does, shifts its panels
    down whenever a caption wraps onto more lines.

    Args:
        tiles (Sequence[np.ndarray]): RGB drawings.
        panel_height (int): Rows of panels at the bottom of each drawing
            (the image height ``H``).
        cols (int): Drawings per row. Defaults to 4.
        scale (int): Integer upscaling (nearest) of the sheet.
        gap (int): Pixels between drawings.
        background (tuple[int]): RGB colour between drawings.

    Returns:
        np.ndarray: The RGB sheet (uint8).
    """
    if not tiles:
        raise ValueError('contact_sheet needs at least one drawing')
    for i, t in enumerate(tiles):
        if t.ndim != 3 or t.shape[0] < panel_height:
            raise ValueError(f'drawing {i} of shape {t.shape} is shorter '
                             f'than panel_height={panel_height}')
    cols = max(1, int(cols))
    width = max(t.shape[1] for t in tiles)
    rows = []
    for r in range(0, len(tiles), cols):
        row_tiles = list(tiles[r:r + cols])
        banner_h = max(t.shape[0] - panel_height for t in row_tiles)
        cells = []
        for t in row_tiles:
            own = t.shape[0] - panel_height
            cell = np.empty((banner_h + panel_height, width, 3), np.uint8)
            cell[:] = background
            bg = t[0, 0] if own > 0 else np.array(background, np.uint8)
            cell[:banner_h, :t.shape[1]] = bg
            cell[:own, :t.shape[1]] = t[:own]
            cell[banner_h:, :t.shape[1]] = t[own:]
            cells.append(cell)
        while len(cells) < cols:
            blank = np.empty_like(cells[0])
            blank[:] = background
            cells.append(blank)
        spacer = np.empty((cells[0].shape[0], gap, 3), np.uint8)
        spacer[:] = background
        parts = []
        for i, c in enumerate(cells):
            parts += [spacer, c] if i else [c]
        rows.append(np.concatenate(parts, axis=1))
    sheet_parts = []
    for i, row in enumerate(rows):
        if i:
            spacer = np.empty((gap, row.shape[1], 3), np.uint8)
            spacer[:] = background
            sheet_parts.append(spacer)
        sheet_parts.append(row)
    sheet = np.concatenate(sheet_parts, axis=0)
    if scale > 1:
        sheet = cv2.resize(sheet, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(sheet)


@VISUALIZERS.register_module()
class ReferringLocalVisualizer(SegLocalVisualizer):
    """Local visualizer for referring segmentation.

    ``add_datasample`` draws the sentence (``data_sample.metainfo['text']``)
    in a banner above the image with the ground-truth mask (green) and the
    image with the predicted mask (cyan, dark-outlined), side by side
    when both exist, and
    prints the per-sample IoU when the ground truth is present. See
    :func:`draw_referring_overlay`.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): RGB image to draw on. Defaults to None.
        vis_backends (list[dict], optional): Visual backend configs.
            Defaults to None.
        save_dir (str, optional): Save directory for the backends.
            Defaults to None.
        classes (list, optional): Class names. Defaults to
            ``['background', 'target']``.
        palette (list, optional): Palette. Defaults to black/cyan.
        dataset_name (str, optional): Unused alias kept for compatibility
            with ``SegLocalVisualizer``. Defaults to None.
        alpha (float): Mask opacity. Defaults to 0.5.
        gt_color (Sequence[int]): RGB colour of the GT. Defaults to green.
        pred_color (Sequence[int]): RGB colour of the prediction.
            Defaults to cyan.
        ignore_index (int): GT label ignored by the IoU. Defaults to 255.
        **kwargs: Passed to ``mmengine.visualization.Visualizer``.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[List] = None,
                 palette: Optional[List] = None,
                 dataset_name: Optional[str] = None,
                 alpha: float = 0.5,
                 gt_color: Sequence[int] = GT_COLOR,
                 pred_color: Sequence[int] = PRED_COLOR,
                 ignore_index: int = 255,
                 **kwargs) -> None:
        classes = classes or ['background', 'target']
        palette = palette or [[0, 0, 0], list(PRED_COLOR)]
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir,
            classes=classes,
            palette=palette,
            dataset_name=dataset_name,
            alpha=alpha,
            **kwargs)
        self.gt_color: Color = tuple(int(c) for c in gt_color)
        self.pred_color: Color = tuple(int(c) for c in pred_color)
        self.ignore_index = ignore_index

    def draw_referring(self,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample],
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       with_labels: bool = True) -> np.ndarray:
        """Draw one sample and return the RGB image (no saving, no show).

        Args:
            image (np.ndarray): RGB image at the original size.
            data_sample (SegDataSample, optional): Sample with metainfo
                ``text`` (and ``text_read``, the part the model read, when
                the inference API set it) and optionally ``gt_sem_seg`` /
                ``pred_sem_seg``.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction. Defaults to True.
            with_labels (bool): Write ``GT`` / ``Pred`` tags.
                Defaults to True.

        Returns:
            np.ndarray: The drawn RGB image.
        """
        text = text_read = None
        gt = pred = None
        if data_sample is not None:
            text = data_sample.metainfo.get('text')
            text_read = data_sample.metainfo.get('text_read')
            if draw_gt and 'gt_sem_seg' in data_sample:
                gt = data_sample.gt_sem_seg
            if draw_pred and 'pred_sem_seg' in data_sample:
                pred = data_sample.pred_sem_seg
        return draw_referring_overlay(
            image,
            text,
            pred_mask=pred,
            gt_mask=gt,
            alpha=self.alpha,
            gt_color=self.gt_color,
            pred_color=self.pred_color,
            ignore_index=self.ignore_index,
            draw_tags=with_labels,
            text_read=text_read)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw a referring sample and show it, save it or log it.

        Same behaviour as ``SegLocalVisualizer.add_datasample``: with
        ``show`` the image is displayed; with ``out_file`` it is written
        there (and not sent to the backends); otherwise it goes to every
        vis backend as ``{name}_{step}.png``.

        Args:
            name (str): Image identifier.
            image (np.ndarray): RGB image at the original size.
            data_sample (SegDataSample, optional): The sample to draw.
                Defaults to None.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction. Defaults to True.
            show (bool): Display the drawn image. Defaults to False.
            wait_time (float): Display time (s). Defaults to 0.
            out_file (str, optional): Output path. Defaults to None.
            step (int): Global step. Defaults to 0.
            with_labels (bool, optional): Write ``GT`` / ``Pred`` tags.
                Defaults to True.
        """
        drawn = self.draw_referring(image, data_sample, draw_gt, draw_pred,
                                    bool(with_labels))
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
