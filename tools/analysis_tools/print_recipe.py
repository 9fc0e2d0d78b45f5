"""Print what a training run of a config will do, before spending a cluster
on it.

    python tools/analysis_tools/print_recipe.py configs/fianet_swinb.py
    python tools/analysis_tools/print_recipe.py configs/lavt_swinb.py --gpus 4
    python tools/analysis_tools/print_recipe.py configs/crobim_convnextb.py \
        --check-pretrained

Sections: data (split sizes from the dataset when its files are present,
else the released sizes documented in docs/datasets.md), batch (images per
GPU x GPUs = total, against the recipe's base batch), iterations (per epoch
and in total), optimiser and schedule, parameter groups (trainable and
frozen parameters per module with their lr and weight-decay multipliers, as
MMEngine's optimiser constructor builds them), loss terms and weights, text
(token length, trained BERT layers), seed, evaluation protocol, and the
pretrained sources. ``--check-pretrained`` also reads the pretrained files
(a local path or a cached download) and prints the share of the backbone's
tensors they cover, and whether the text encoder loads completely.

The model is built with random weights of the configured sizes (the text
encoder's BERT architecture with the offline tokenizer), so nothing is
downloaded unless ``--check-pretrained`` is given.
"""
import argparse
import logging
import math
import os.path as osp
import sys
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
import mmrrsis  # noqa: E402,F401  (registers modules)

# isort: split
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmrrsis.utils.offline_model import offline_model_cfg  # noqa: E402

#: Released split sizes (expressions), docs/datasets.md; used when the
#: dataset's files are not on this machine.
RELEASED_SIZES: Dict[str, Dict[str, int]] = {
    'RefSegRSDataset': dict(train=2172, val=431, test=1817),
    'RRSISDDataset': dict(train=12181, val=1740, test=3481),
    'RISBenchDataset': dict(train=26300, val=10013, test=16158),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--gpus', type=int, default=None,
                   help='number of GPUs (processes) of the run; default: '
                   'the layout the config documents (base batch / images '
                   'per GPU)')
    p.add_argument('--check-pretrained', action='store_true',
                   help='read the pretrained files and print their coverage')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


# ------------------------------------------------------------------ helpers
def _fmt_params(n: int) -> str:
    return f'{n / 1e6:.2f} M' if n >= 1e5 else str(n)


def split_size(cfg: Config, key: str) -> (Optional[int], str):
    """Number of samples of ``{key}.dataset`` and where it comes from."""
    ds = cfg[key].dataset
    root = ds.get('data_root')
    if root and osp.isdir(root):
        from mmseg.registry import DATASETS
        try:
            return len(DATASETS.build(ds)), f'counted in {root}'
        except Exception as err:  # report, fall back to the documented size
            note = f'could not read {root}: {err}'
        else:
            note = ''
    else:
        note = f'{root} not on this machine'
    size = RELEASED_SIZES.get(ds.get('type'), {}).get(ds.get('split'))
    if size is None:
        return None, note + '; size unknown'
    return size, note + '; released size (docs/datasets.md)'


def iterations_per_epoch(n: int, per_gpu: int, gpus: int) -> int:
    """MMEngine's DefaultSampler pads every rank to ceil(n / gpus)
    samples; the loader keeps the last partial batch."""
    return math.ceil(math.ceil(n / gpus) / per_gpu)


def parameter_groups(model, optim_cfg) -> List[dict]:
    """Per top-level module: trainable / frozen counts and the
    (lr multiplier, decay multiplier) -> count table of the trainable
    parameters, from the optimiser MMEngine builds."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # one "skipped" line per frozen tensor
    try:
        wrapper = build_optim_wrapper(model, optim_cfg)
    finally:
        logger.setLevel(level)
    opt = wrapper.optimizer
    base_lr = opt.defaults['lr']
    base_wd = opt.defaults.get('weight_decay', 0.0) or 0.0
    group_of = {}
    for g in opt.param_groups:
        for p in g['params']:
            group_of[id(p)] = g
    rows: 'OrderedDict[str, dict]' = OrderedDict()
    for name, p in model.named_parameters():
        top = name.split('.')[0]
        row = rows.setdefault(top, dict(module=top, trainable=0, frozen=0,
                                        mults=defaultdict(int)))
        if not p.requires_grad:
            row['frozen'] += p.numel()
            continue
        g = group_of.get(id(p), {})
        lr_mult = g.get('lr', base_lr) / base_lr if base_lr else 0.0
        wd = g.get('weight_decay', base_wd)
        decay_mult = wd / base_wd if base_wd else 0.0
        if lr_mult == 0:
            row['frozen'] += p.numel()  # in the optimiser, never moves
        else:
            row['trainable'] += p.numel()
        row['mults'][(round(lr_mult, 4), round(decay_mult, 4))] += p.numel()
    return list(rows.values())


def loss_terms(model_cfg) -> List[str]:
    out = []
    for head_key in ('decode_head', 'auxiliary_head'):
        heads = model_cfg.get(head_key)
        if heads is None:
            continue
        for head in heads if isinstance(heads, (list, tuple)) else [heads]:
            for key in ('loss_decode', 'loss_stream'):
                terms = head.get(key)
                if terms is None:
                    continue
                for t in terms if isinstance(terms, (list, tuple)) else [
                        terms]:
                    extra = {k: v for k, v in t.items()
                             if k not in ('type', 'loss_weight')}
                    out.append(f"{head_key}.{key}: {t['type']} x "
                               f"{t.get('loss_weight', 1.0)} {extra or ''}")
            if head.get('type') == 'DMOLSHead' or 'loss_decode' not in head:
                out.append(f"{head_key}: {head['type']} x "
                           f"{head.get('loss_weight', 1.0)}")
    return out


def schedule_lines(cfg: Config, iters_per_epoch: Optional[int]) -> List[str]:
    lines = []
    train_cfg = cfg.train_cfg
    if train_cfg.get('type') == 'IterBasedTrainLoop':
        total = train_cfg['max_iters']
        lines.append(f'iteration-based: {total} iterations')
    else:
        epochs = train_cfg['max_epochs']
        total = None if iters_per_epoch is None else epochs * iters_per_epoch
        lines.append(f'{epochs} epochs x {iters_per_epoch} iterations = '
                     f'{total} iterations')
    for s in cfg.get('param_scheduler', []) or []:
        keys = ('power', 'eta_min', 'start_factor', 'begin', 'end',
                'by_epoch', 'convert_to_iter_based')
        detail = ', '.join(f'{k}={s[k]}' for k in keys if k in s)
        lines.append(f"scheduler {s['type']}({detail})")
    return lines


def text_lines(model_cfg) -> List[str]:
    te = model_cfg.get('text_encoder', {})
    trained = te.get('trainable_layers')
    frozen = te.get('frozen_layers', 0)
    if trained is not None:
        what = (f'layers 0-{trained - 1} trained; embeddings and later '
                'layers requires_grad=False')
    elif frozen == -1:
        what = 'whole encoder frozen'
    elif frozen:
        what = f'embeddings + first {frozen - 1} layers frozen'
    else:
        what = 'all of it trained'
    return [f"{te.get('type')} {te.get('model_name_or_path')}: "
            f"max_length {te.get('max_length')} tokens; {what}"]


def eval_lines(cfg: Config) -> List[str]:
    val_split = cfg.val_dataloader.dataset.get('split')
    test_split = cfg.get('test_dataloader', {}).get('dataset', {}).get(
        'split')
    ckpt = cfg.default_hooks.get('checkpoint', {})
    best = ckpt.get('save_best')
    ev = cfg.val_evaluator
    lines = [
        f"model selection: best {best} on the '{val_split}' split, every "
        f"{cfg.train_cfg.get('val_interval')} "
        f"{'iterations' if 'max_iters' in cfg.train_cfg else 'epoch(s)'}",
        f"final numbers: the '{test_split}' split (tools/test.py)",
        f"metric: {ev.get('type')} {dict((k, v) for k, v in ev.items() if k != 'type')}",  # noqa: E501
    ]
    if val_split == test_split:
        lines.append('NOTE: selecting on the test split (as FIANet\'s '
                     'official code does): the reported test numbers are '
                     'then optimistic')
    return lines


# --------------------------------------------------------------------- main
def recipe(cfg: Config, gpus: Optional[int] = None,
           check_pretrained: bool = False) -> str:
    """The recipe report of ``cfg`` as text."""
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    out: List[str] = []

    def section(title: str, lines: List[str]) -> None:
        out.append(f'== {title}')
        out.extend(f'  {line}' for line in lines)

    per_gpu = cfg.train_dataloader.batch_size
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    if gpus is None:
        gpus = max(1, base // per_gpu) if base else 1
    total = per_gpu * gpus
    batch = [f'{per_gpu} images per GPU x {gpus} GPU(s) = {total} per step']
    if base and total != base:
        batch.append(
            f'WARNING: the recipe trains at {base} per step; at {total} the '
            'run differs from it (set --cfg-options auto_scale_lr.enable='
            'True to scale the lr linearly, or change batch_size)')
    elif base:
        batch.append(f'= the recipe\'s batch ({base})')
    sizes = {}
    data = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if key not in cfg:
            continue
        n, src = split_size(cfg, key)
        sizes[key] = n
        ds = cfg[key].dataset
        data.append(f"{key.split('_')[0]}: {ds.get('type')} split "
                    f"'{ds.get('split')}': {n} samples ({src})")
    n_train = sizes.get('train_dataloader')
    ipe = (None if n_train is None else iterations_per_epoch(
        n_train, per_gpu, gpus))
    section('data', data)
    section('batch', batch)
    optim = cfg.optim_wrapper
    opt = optim.get('optimizer', {})
    section('optimiser', [
        f"{optim.get('type', 'OptimWrapper')} "
        f"{dict((k, v) for k, v in opt.items())}",
        f"paramwise_cfg: {optim.get('paramwise_cfg')}",
        f"clip_grad: {optim.get('clip_grad')}",
    ] + schedule_lines(cfg, ipe))

    model = MODELS.build(offline_model_cfg(cfg.model))
    groups = parameter_groups(model, cfg.optim_wrapper)
    lines = []
    for g in groups:
        mults = ', '.join(
            f'lr x{lr:g} decay x{wd:g}: {_fmt_params(n)}'
            for (lr, wd), n in sorted(g['mults'].items()))
        lines.append(f"{g['module']}: trainable {_fmt_params(g['trainable'])}"
                     f", frozen {_fmt_params(g['frozen'])}"
                     f"{' [' + mults + ']' if mults else ''}")
    trainable = sum(g['trainable'] for g in groups)
    frozen = sum(g['frozen'] for g in groups)
    lines.append(f'total: trainable {_fmt_params(trainable)}, frozen '
                 f'{_fmt_params(frozen)}')
    section('parameter groups (multipliers of the base lr / weight decay)',
            lines)
    section('loss', loss_terms(cfg.model))
    section('text', text_lines(cfg.model))
    rnd = cfg.get('randomness') or {}
    section('seed', [f"seed {rnd.get('seed')} (deterministic="
                     f"{rnd.get('deterministic', False)})"])
    section('evaluation', eval_lines(cfg))
    section('pretrained', pretrained_lines(cfg.model, check_pretrained))
    return '\n'.join(out)


def pretrained_lines(model_cfg, check: bool) -> List[str]:
    bb = model_cfg.get('backbone', {})
    init = bb.get('init_cfg')
    lines = [f"backbone {bb.get('type')}: "
             f"{init.get('checkpoint') if isinstance(init, dict) else 'from scratch (no Pretrained init_cfg)'}"]  # noqa: E501
    te = model_cfg.get('text_encoder', {})
    pretrained = te.get('pretrained', True)
    lines.append(f"text encoder {te.get('model_name_or_path')}"
                 f"{'' if pretrained else ' (random weights)'}")
    if not check:
        lines.append('(--check-pretrained reads these files and prints '
                     'their coverage)')
        return lines
    from mmrrsis.models.utils.pretrained import (format_coverage,
                                                 pretrained_coverage)
    try:
        report = pretrained_coverage(bb)
        share = report['loaded'] / max(report['expected'], 1)
        lines.append(f'backbone coverage: {share:.1%}')
        lines.extend(format_coverage(report).splitlines())
    except Exception as err:
        lines.append(f'backbone: could not read the checkpoint: {err}')
    if pretrained:
        lines.extend(text_encoder_coverage(te))
    return lines


def text_encoder_coverage(te_cfg) -> List[str]:
    """Load the text encoder's weights as HFTextEncoder would and report
    what transformers did not find (the pooler is dropped on purpose)."""
    from transformers import AutoModel

    from mmrrsis.models.text_encoders import resolve_model_path
    name = te_cfg.get('model_name_or_path')
    try:
        path = resolve_model_path(name)
        _, info = AutoModel.from_pretrained(
            path, add_pooling_layer=False, output_loading_info=True,
            local_files_only=osp.isdir(path))
    except Exception as err:
        return [f'text encoder: could not load {name}: '
                f'{str(err).splitlines()[0]}']
    missing = [k for k in info.get('missing_keys', [])
               if 'pooler' not in k]
    return [f"text encoder coverage: {'complete' if not missing else 'MISSING ' + str(missing[:20])}"]  # noqa: E501


def main(argv=None) -> str:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    text = recipe(cfg, args.gpus, args.check_pretrained)
    print(f'Recipe of {args.config}')
    print(text)
    return text


if __name__ == '__main__':
    main()
