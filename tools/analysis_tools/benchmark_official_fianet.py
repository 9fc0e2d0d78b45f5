"""Benchmark the official FIANet code the way ``benchmark.py`` benchmarks
ours: parameters, training step time, inference time per image and peak
memory, on the CPU or a GPU.

FIANet: Lei et al., "Exploring Fine-Grained Image-Text Alignment for
Referring Remote Sensing Image Segmentation", IEEE TGRS 2024
(arXiv 2409.13637). Official code: GitHub Shaosifan/FIANet. It is never part
of this repository: pass a checkout of it::

    git clone https://github.com/Shaosifan/FIANet /path/to/FIANet
    python tools/analysis_tools/benchmark_official_fianet.py \
        --official-root /path/to/FIANet --img-size 480 --batch-size 1 \
        --warmup 1 --iters 3 --json work_dirs/bench/official_fianet.json
    # ours, same measurement:
    python tools/analysis_tools/benchmark.py configs/fianet_swinb.py \
        --random-text-encoder --img-size 480 --batch-size 1 \
        --warmup 1 --iters 3 --json work_dirs/bench/fianet_swinb.json

Both write the same JSON keys (``params_M``, ``train_step_s``,
``infer_s_per_image``, ``train_peak_mem_MiB``, ``infer_peak_mem_MiB``,
``img_size``, ``batch_size``), so ``benchmark.py``'s comparison can pair
them.

The official code needs packages this environment lacks (mmcv 1.x, timm, an
old mmseg, ``requests``) only for small helpers, and a GPU only for one
``.cuda()`` call. While it is imported, this script puts its own stand-ins
into ``sys.modules`` (no official file is touched, and ``sys.modules`` /
``sys.path`` are restored afterwards):

* ``timm.models.layers``: ``DropPath`` (per-sample stochastic depth, as
  timm), ``to_2tuple`` and ``trunc_normal_`` (``nn.init.trunc_normal_``);
* ``mmseg.utils.get_root_logger`` (a ``logging`` logger) and
  ``lib.mmcv_custom.load_checkpoint`` (raises: no pretrained weights are
  read; the backbone keeps its random init);
* ``requests`` (imported by the official ``bert/file_utils.py`` for
  downloads only), when it is not installed;
* ``BertModel.from_pretrained`` returns the official ``BertModel`` built from
  a default ``BertConfig`` (BERT-base, dropout 0.1) with random weights;
* ``Tensor.cuda`` is a no-op while the official loss is built on the CPU
  (``loss/loss.py`` moves its class weights with ``.cuda()``).

What is measured, mirroring ``benchmark.py`` for ``configs/fianet_swinb.py``
with ``--random-text-encoder``:

* Model: ``lib.segmentation.lavt_one`` with ``swin_type='base'``,
  ``window12``, ``num_tmem=1`` (``--num-tmem``), ``fusion_drop=0`` (the
  official defaults for RefSegRS), Swin-B depths 2-2-18-2 (``--depths``) and
  drop path 0.3 (hard-coded in the official code; our config uses 0.3 too
  and ``benchmark.py`` keeps it). Random weights on both sides.
* Batch: ``--batch-size`` random uint8 images, the same four sentences as
  ``benchmark.py`` (``SENTENCES``, sample ``i`` reads ``SENTENCES[i % 4]``),
  a foreground square at [H/4:H/2, W/4:W/2]. The official dataset tokenises
  when it is built (``tokenizer.encode(text)[:20]``, zero padded) and builds
  the object / spatial token masks there: this script does the same once,
  outside the timed loop, with bert-base-uncased's vocabulary (the offline
  all-MiniLM-L6-v2 copy) and mmrrsis's ``ExpressionSplitter(mode='rule',
  placement='official')`` (which reproduces the official loaders' masks).
* Inference (``model.eval()``, no grad), per call: normalise and stack the
  uint8 images (ImageNet mean/std, what our ``SegDataPreProcessor`` does in
  ``test_step``; the official loader does it in its workers), the official
  forward (which already resizes the logits to the image, bilinear,
  ``align_corners=True``, as our ``test_step`` resizes them to the original
  shape) and the argmax mask (official ``test.py``; ours fills
  ``pred_sem_seg``). Median over ``--iters`` after ``--warmup`` calls,
  divided by the batch size.
* Training step (``model.train()``): normalise, forward, ``zero_grad``,
  the official loss (0.9 CE with class weights 0.9/1.1 + 0.1 Dice,
  ``loss/loss.py``), ``backward``, AdamW with the official parameter
  groups (``train.py``: backbone names with 'norm' / 'absolute_pos_embed' /
  'relative_position_bias_table' without weight decay, the rest of the
  backbone, the classifier, BERT layers 0-9; lr 5e-5, wd 0.01), the poly
  ``LambdaLR`` step and ``loss.item()``. As in the official code, BERT's
  embeddings and layers 10-11 keep ``requires_grad=True`` (they get a
  gradient that the optimiser ignores); ours freezes them.
* Peak memory: the process's peak RSS (``ru_maxrss``) after inference and
  after training (inference runs first, as in ``benchmark.py``), or
  ``torch.cuda.max_memory_allocated`` on a GPU.

Differences left, all in the official code's favour: our ``test_step`` and
``train_step`` tokenise and split the sentences on every call (the official
dataset does it once), and go through MMSeg's data samples and loss
dictionary. No autocast option: the official code has none. Both processes
import mmrrsis (this one for the tokenizer and the splitter; about 340 MiB of
RSS over torch's 510 MiB, measured on the CPU), where the official code
itself would import mmcv 1.x, mmseg 0.x and timm instead.

How it was checked (2026-12-01, torch 2.14.1, CPU): with the official
checkout at commit 89a234a the model built here has 251.92 M parameters
(Swin-B, 1 TMEM; 201.35 M with depths 2-2-2-2), the numbers of the
side-by-side harness whose one-step loss, gradients and updates matched ours
to rounding (configs/fianet/README.md); a run with depths 2-2-2-2 at 64x64
trains and infers (the official checkout test); the stand-ins are tested in
``tests/test_tools/test_benchmark_official_fianet.py``, which also runs this
script on a tiny preset when ``MMRRSIS_OFFICIAL_FIANET`` names a checkout.
Measured with it (2026-12-01, the 2-core CPU while nearly idle, 2 threads,
480x480, batch 1, ``--warmup 1 --iters 3``): train step 9.99 s, inference
4.06 s per image (4.04 s in a second run), peak RSS 7206 MiB in training and
2104 MiB after inference. (configs/fianet/README.md's 9.05 s / 2.87 s /
6.92 GiB came from an earlier harness on 2026-11-22: compare only figures
measured back to back.)
"""
import argparse
import contextlib
import importlib
import importlib.machinery
import logging
import os.path as osp
import statistics
import subprocess
import sys
import types
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn as nn

#: The sentences of ``benchmark.py`` (kept equal by a test).
SENTENCES = [
    'the storage tank at the bottom left of the harbor',
    'the red building to the right of the large pool',
    'the white vehicle on the road at the top',
    'the ship closest to the dock in the middle',
]
#: Official ``args.py`` / README defaults for RefSegRS.
MAX_TOKENS = 20
LR = 5e-5
WEIGHT_DECAY = 1e-2
SWIN_B_DEPTHS = (2, 2, 18, 2)
#: ImageNet mean / std on 0-255 pixels (``SegDataPreProcessor`` of ours;
#: the official ``T.Normalize`` on ``ToTensor`` output is the same).
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
#: Files that identify an official checkout.
OFFICIAL_FILES = ('lib/segmentation.py', 'lib/_utils.py', 'loss/loss.py',
                  'bert/modeling_bert.py', 'bert/configuration_bert.py')
#: Top-level packages of the official repository (removed from
#: ``sys.modules`` again after import: the names are generic).
OFFICIAL_PACKAGES = ('lib', 'bert', 'loss')


# ------------------------------------------------------------ stand-ins
class DropPath(nn.Module):
    """Stochastic depth per sample (timm's ``DropPath``): in training, each
    sample's residual branch is zeroed with probability ``drop_prob`` and
    the kept ones are scaled by ``1 / (1 - drop_prob)``; identity in eval.

    Args:
        drop_prob (float): Drop probability. Defaults to 0.

    Shape:
        x: [B, ...] -> [B, ...].
    """

    def __init__(self, drop_prob: float = 0.) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob or 0.)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1. - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x / keep * mask


def to_2tuple(x) -> tuple:
    """``x`` as a pair (timm): sequences are kept, a scalar is doubled."""
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x, x)


def trunc_normal_(tensor: torch.Tensor,
                  mean: float = 0.,
                  std: float = 1.,
                  a: float = -2.,
                  b: float = 2.) -> torch.Tensor:
    """timm's ``trunc_normal_``: ``nn.init.trunc_normal_`` in place."""
    return nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)


def get_root_logger(*args, **kwargs) -> logging.Logger:
    """Stand-in for mmseg 0.x's ``get_root_logger``."""
    return logging.getLogger('official_fianet')


def load_checkpoint(*args, **kwargs):
    """Stand-in for the official ``lib.mmcv_custom.load_checkpoint``: this
    benchmark uses random weights and reads no checkpoint."""
    raise RuntimeError('the official FIANet benchmark reads no checkpoint '
                       '(random weights, as benchmark.py for ours)')


def _module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    mod.__dict__.update(attrs)
    return mod


def stand_in_modules() -> Dict[str, types.ModuleType]:
    """The modules that the official code imports and this environment
    lacks, made of the stand-ins above (name -> module)."""
    mods = {
        'timm': _module('timm'),
        'timm.models': _module('timm.models'),
        'timm.models.layers': _module(
            'timm.models.layers', DropPath=DropPath, to_2tuple=to_2tuple,
            trunc_normal_=trunc_normal_),
        'mmseg.utils': _module('mmseg.utils',
                               get_root_logger=get_root_logger),
        'lib.mmcv_custom': _module('lib.mmcv_custom',
                                   load_checkpoint=load_checkpoint),
    }
    if 'mmseg' not in sys.modules:
        mods['mmseg'] = _module('mmseg')
    try:
        importlib.import_module('requests')
    except ImportError:
        mods['requests'] = _module('requests')
    return mods


def _is_official(name: str) -> bool:
    return any(name == p or name.startswith(p + '.')
               for p in OFFICIAL_PACKAGES)


@contextlib.contextmanager
def official_stand_ins(official_root: str) -> Iterator[None]:
    """Import context for the official code.

    Inside: the stand-ins are in ``sys.modules`` and ``official_root`` is
    first on ``sys.path``. On exit (also after an error) every touched
    ``sys.modules`` entry is restored (stand-ins and official modules
    removed, entries they shadowed put back) and ``sys.path`` is restored.
    Official modules imported inside stay usable through the references the
    caller holds.

    Args:
        official_root (str): A checkout of GitHub Shaosifan/FIANet.
    """
    stand_ins = stand_in_modules()
    saved_path = list(sys.path)
    saved = {n: m for n, m in sys.modules.items()
             if n in stand_ins or _is_official(n)}
    for name in saved:
        if _is_official(name):
            del sys.modules[name]
    sys.modules.update(stand_ins)
    sys.path.insert(0, osp.abspath(official_root))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in [n for n in sys.modules
                     if n in stand_ins or _is_official(n)]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path[:] = saved_path
        importlib.invalidate_caches()


@contextlib.contextmanager
def cuda_noop() -> Iterator[None]:
    """``Tensor.cuda`` returns the tensor itself (the official loss calls
    ``.cuda()`` when it is built); restored on exit."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = original


@contextlib.contextmanager
def random_from_pretrained(model_cls: type,
                           make_config: Callable) -> Iterator[None]:
    """``model_cls.from_pretrained(...)`` builds ``model_cls(make_config())``
    (random weights, nothing read) inside; the class attribute is
    restored on exit."""
    had_own = 'from_pretrained' in model_cls.__dict__
    original = model_cls.__dict__.get('from_pretrained')

    def from_pretrained(cls, *args, **kwargs):
        return cls(make_config())

    model_cls.from_pretrained = classmethod(from_pretrained)
    try:
        yield
    finally:
        if had_own:
            model_cls.from_pretrained = original
        else:
            del model_cls.from_pretrained


# ------------------------------------------------------------ official code
def check_official_root(root: str) -> str:
    """``root`` as an absolute path; ``FileNotFoundError`` when it is not an
    official FIANet checkout."""
    missing = [f for f in OFFICIAL_FILES if not osp.isfile(osp.join(root, f))]
    if missing:
        raise FileNotFoundError(
            f'{root!r} is not a checkout of GitHub Shaosifan/FIANet '
            f'(missing {missing})')
    return osp.abspath(root)


def official_commit(root: str) -> Optional[str]:
    """The checkout's git commit, or None (e.g. a ``git archive`` copy)."""
    try:
        out = subprocess.run(
            ['git', '-C', root, 'rev-parse', '--show-toplevel', 'HEAD'],
            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    # only the checkout's own repository, not one that merely contains it
    if out.returncode != 0 or len(lines) != 2 or not osp.samefile(
            lines[0], root):
        return None
    return lines[1]


def load_official(root: str) -> types.SimpleNamespace:
    """Import the official modules this benchmark needs, with the
    stand-ins (see :func:`official_stand_ins`).

    Returns:
        SimpleNamespace: ``segmentation`` (``lib.segmentation``),
        ``Loss`` (``loss.loss.Loss``), ``BertModel`` and ``BertConfig``
        (the official ``bert`` package).
    """
    root = check_official_root(root)
    with official_stand_ins(root):
        segmentation = importlib.import_module('lib.segmentation')
        loss_mod = importlib.import_module('loss.loss')
        bert_model = importlib.import_module('bert.modeling_bert')
        bert_config = importlib.import_module('bert.configuration_bert')
    return types.SimpleNamespace(
        segmentation=segmentation, Loss=loss_mod.Loss,
        BertModel=bert_model.BertModel, BertConfig=bert_config.BertConfig)


def build_official_model(official: types.SimpleNamespace,
                         depths: Sequence[int] = SWIN_B_DEPTHS,
                         num_tmem: int = 1,
                         drop_path_rate: float = 0.3) -> nn.Module:
    """The official ``LAVTOne`` (``lavt_one``): Swin-B (128 wide, heads
    4-8-16-32, window 12) with ``depths``, FIAM in every stage, ``num_tmem``
    TMEM blocks, the SimpleDecoding head and BERT-base (random weights,
    default ``BertConfig``). ``drop_path_rate`` replaces the official
    hard-coded 0.3 only when it differs from it.

    Returns:
        nn.Module: ``model(image [B, 3, H, W], ids [B, L], sentence_mask
        [B, L], object_mask [B, L], spatial_mask [B, L])`` -> logits
        [B, 2, H, W].
    """
    seg = official.segmentation
    real_swin = seg.MultiModalSwinTransformer

    def swin(**kwargs):
        kwargs['depths'] = list(depths)
        kwargs['drop_path_rate'] = drop_path_rate
        return real_swin(**kwargs)

    args = argparse.Namespace(
        swin_type='base', window12=True, mha='', num_tmem=num_tmem,
        fusion_drop=0.0, ck_bert='bert-base-uncased', model='lavt_one',
        lr=LR, weight_decay=WEIGHT_DECAY, amsgrad=False)
    seg.MultiModalSwinTransformer = swin
    try:
        with random_from_pretrained(official.BertModel, official.BertConfig):
            model = seg.lavt_one(pretrained='', args=args)
    finally:
        seg.MultiModalSwinTransformer = real_swin
    return model


def official_param_groups(model: nn.Module) -> List[dict]:
    """AdamW parameter groups of the official ``train.py`` (``lavt_one``):
    backbone parameters named with 'norm', 'absolute_pos_embed' or
    'relative_position_bias_table' (weight decay 0), the other backbone
    parameters, the classifier, and BERT encoder layers 0-9 (its
    embeddings and layers 10-11 are left out)."""
    no_decay, decay = [], []
    for name, param in model.backbone.named_parameters():
        if ('norm' in name or 'absolute_pos_embed' in name
                or 'relative_position_bias_table' in name):
            no_decay.append(param)
        else:
            decay.append(param)
    bert = [
        p for i in range(10)
        for p in model.text_encoder.encoder.layer[i].parameters()
        if p.requires_grad
    ]
    return [
        dict(params=no_decay, weight_decay=0.0),
        dict(params=decay),
        dict(params=[p for p in model.classifier.parameters()
                     if p.requires_grad]),
        dict(params=bert),
    ]


def build_official_loss(official: types.SimpleNamespace,
                        device: str) -> Callable:
    """The official loss (0.9 CE, class weights 0.9/1.1, + 0.1 Dice) with
    its class weights on ``device``."""
    with cuda_noop():
        crit = official.Loss(weight=0.1)
    crit.ce_loss.weight = crit.ce_loss.weight.to(device)
    return crit


# ------------------------------------------------------------ batch
def official_tokens(sentences: Sequence[str],
                    max_tokens: int = MAX_TOKENS) -> Dict[str, torch.Tensor]:
    """Token ids and masks as the official RefSegRS dataset builds them:
    ``tokenizer.encode(text)[:max_tokens]`` zero padded, the sentence
    mask, and the object / spatial masks of the official splitter
    (reproduced by mmrrsis's ``ExpressionSplitter(mode='rule',
    placement='official')``).

    Returns:
        dict: ``ids``, ``sentence_mask``, ``object_mask``,
        ``spatial_mask``: long [B, max_tokens].
    """
    from transformers import AutoTokenizer

    from mmrrsis.models.text_encoders.expression_splitter import \
        ExpressionSplitter
    from mmrrsis.models.text_encoders.hf_text_encoder import resolve_model_path
    from mmrrsis.utils.offline_model import OFFLINE_TOKENIZER
    tokenizer = AutoTokenizer.from_pretrained(
        resolve_model_path(OFFLINE_TOKENIZER))
    B = len(sentences)
    ids = torch.zeros(B, max_tokens, dtype=torch.long)
    attn = torch.zeros(B, max_tokens, dtype=torch.long)
    for b, text in enumerate(sentences):
        enc = tokenizer.encode(text, add_special_tokens=True)[:max_tokens]
        ids[b, :len(enc)] = torch.tensor(enc)
        attn[b, :len(enc)] = 1
    # the official placement puts word i at token i + 1 (no offsets needed);
    # sentences without a spatial phrase fall back to the sentence mask
    splitter = ExpressionSplitter(class_words='refsegrs', mode='rule',
                                  placement='official')
    masks = splitter(list(sentences), dict(attention_mask=attn))
    return dict(ids=ids, sentence_mask=attn,
                object_mask=masks['object_mask'].long(),
                spatial_mask=masks['spatial_mask'].long())


def make_batch(batch_size: int, size: Sequence[int],
               device: str) -> dict:
    """``benchmark.py``'s batch for the official model: uint8 images
    [3, H, W] (normalised inside every timed call), the tokens of
    ``SENTENCES[i % 4]`` and the target long [B, H, W] (a square of
    foreground at [H/4:H/2, W/4:W/2])."""
    h, w = size
    images = [
        torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
        for _ in range(batch_size)
    ]
    sentences = [SENTENCES[i % len(SENTENCES)] for i in range(batch_size)]
    tokens = {
        k: v.to(device)
        for k, v in official_tokens(sentences).items()
    }
    target = torch.zeros((batch_size, h, w), dtype=torch.long)
    target[:, h // 4:h // 2, w // 4:w // 2] = 1
    return dict(images=images, sentences=sentences, target=target.to(device),
                **tokens)


def normalise(images: Sequence[torch.Tensor], device: str) -> torch.Tensor:
    """uint8 [3, H, W] images -> float [B, 3, H, W], ImageNet-normalised."""
    x = torch.stack([img.to(device) for img in images]).float()
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def _forward(model: nn.Module, batch: dict, device: str) -> torch.Tensor:
    return model(normalise(batch['images'], device), batch['ids'],
                 batch['sentence_mask'], batch['object_mask'],
                 batch['spatial_mask'])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--official-root', required=True,
                   help='a checkout of GitHub Shaosifan/FIANet')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--img-size', type=int, default=480)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--depths', type=int, nargs=4, default=SWIN_B_DEPTHS,
                   metavar='D', help='Swin depths (default 2 2 18 2; '
                   'e.g. 2 2 2 2 for a quick run)')
    p.add_argument('--num-tmem', type=int, default=1,
                   help='TMEM blocks (1 for RefSegRS, 3 for RRSIS-D)')
    p.add_argument('--drop-path-rate', type=float, default=0.3,
                   help='stochastic depth (official and our config: 0.3)')
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--json', help='also write the figures to this file')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    try:
        root = check_official_root(args.official_root)
    except FileNotFoundError as err:
        raise SystemExit(str(err))
    dev = args.device
    size = (args.img_size, args.img_size)
    torch.manual_seed(0)
    official = load_official(root)
    model = build_official_model(official, args.depths, args.num_tmem,
                                 args.drop_path_rate).to(dev)
    groups = official_param_groups(model)
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_optim = sum(p.numel() for g in groups for p in g['params'])
    batch = make_batch(args.batch_size, size, dev)
    # after make_batch, which imports mmrrsis once the official code is in
    from mmrrsis.utils.bench_timing import peak_memory_mib, report, timed
    figures = dict(
        config='official FIANet', device=dev,
        device_name=(torch.cuda.get_device_name(0) if dev.startswith('cuda')
                     else f'cpu x{torch.get_num_threads()} threads'),
        batch_size=args.batch_size, img_size=list(size), amp=False,
        params_M=round(n_params / 1e6, 2),
        trainable_params_M=round(n_train / 1e6, 2),
        optimised_params_M=round(n_optim / 1e6, 2),
        depths=list(args.depths), num_tmem=args.num_tmem,
        drop_path_rate=args.drop_path_rate,
        official_commit=official_commit(root))

    # ---- inference: normalise, forward (logits at the image size), argmax
    model.eval()
    if dev.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()

    def infer():
        with torch.no_grad():
            _forward(model, batch, dev).argmax(1)

    t = timed(infer, args.warmup, args.iters, dev)
    figures['infer_s_per_image'] = round(
        statistics.median(t) / args.batch_size, 4)
    figures['infer_peak_mem_MiB'] = peak_memory_mib(dev)

    # ---- training step: forward, official loss, backward, AdamW, poly lr
    if not args.skip_train:
        model.train()
        crit = build_official_loss(official, dev)
        optimizer = torch.optim.AdamW(groups, lr=LR,
                                      weight_decay=WEIGHT_DECAY,
                                      amsgrad=False)
        total = 100 * 60  # iterations of a 60-epoch schedule; lr only
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda x: max(0., 1 - x / total)**0.9)
        if dev.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()

        def step():
            output = _forward(model, batch, dev)
            optimizer.zero_grad()
            loss = crit(output, batch['target'])
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss.item()

        t = timed(step, args.warmup, args.iters, dev)
        figures['train_step_s'] = round(statistics.median(t), 4)
        figures['train_peak_mem_MiB'] = peak_memory_mib(dev)
    return report(figures, 'Benchmark (official FIANet)', args.json)


if __name__ == '__main__':
    sys.path.insert(
        0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    main()
