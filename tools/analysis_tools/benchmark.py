"""Benchmark a referring segmentor: parameters, FLOPs with a sentence,
training step time, inference time per image and peak memory, on the CPU or
a GPU.

Examples::

    python tools/analysis_tools/benchmark.py \
        configs/lavt/lavt_tiny_synthetic.py
    python tools/analysis_tools/benchmark.py configs/lavt_swinb.py \
        --img-size 480 --batch-size 1 --random-text-encoder
    python tools/analysis_tools/benchmark.py configs/lavt_swinb.py \
        --device cuda --amp --json bench.json
    python tools/analysis_tools/benchmark.py configs/lavt_swinb.py \
        --img-size 480 --random-text-encoder --flops-only \
        --sentence "the storage tank at the bottom left of the harbor"

``--flops`` counts the FLOPs of one forward pass with a sentence (MMSeg's
``get_flops`` gives the model no sentence): torch's ``FlopCounterMode``
(matrix multiplies, convolutions, attention), printed as GMACs per image
(multiply-adds, MMSeg's and most papers' "GFLOPs") and GFLOPs (2 per
multiply-add), split by module (text encoder, backbone, fusion, neck,
head). The count depends on the number of tokens: configs that pad to
``max_length`` (the default) count the same for every sentence.

Inputs are random images and real-looking sentences; no dataset is read.
``--random-text-encoder`` builds the config's BERT architecture with random
weights (tokenizer: the offline all-MiniLM-L6-v2 vocabulary, which is
bert-base-uncased's) so paper configs run where model hubs are unreachable.
CPU peak memory is the process's peak resident set size (RSS high-water
mark, ``ru_maxrss``); GPU peak memory is ``torch.cuda.max_memory_allocated``.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
import mmrrsis  # noqa: E402,F401

# isort: split
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

from mmrrsis.utils.complexity import format_flops  # noqa: E402
from mmrrsis.utils.complexity import referring_flops  # noqa: E402
from mmrrsis.utils.offline_model import offline_model_cfg  # noqa: E402

SENTENCES = [
    'the storage tank at the bottom left of the harbor',
    'the red building to the right of the large pool',
    'the white vehicle on the road at the top',
    'the ship closest to the dock in the middle',
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--img-size', type=int, default=None,
                   help='square input size (default: the config crop size)')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--amp', action='store_true',
                   help='autocast (bf16 on CPU, fp16 on GPU)')
    p.add_argument('--random-text-encoder', action='store_true',
                   help='random weights of the configured text encoder size')
    p.add_argument('--text-width', type=int, default=768,
                   help='hidden size for --random-text-encoder')
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--flops', action='store_true',
                   help='also count FLOPs of one forward pass with a '
                   'sentence')
    p.add_argument('--flops-only', action='store_true',
                   help='count FLOPs and skip the timings')
    p.add_argument('--sentence', default=None,
                   help='sentence for --flops (default: a fixed harbour '
                   'sentence)')
    p.add_argument('--json', help='also write the figures to this file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args()


def _rss_mib() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def build_model(cfg: Config, args) -> torch.nn.Module:
    # no pretrained download: random backbone weights
    model_cfg = offline_model_cfg(
        cfg.model,
        text_width=args.text_width if args.random_text_encoder else None)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.to(args.device)


def make_batch(model, args, size):
    b = args.batch_size
    inputs = [
        torch.randint(0, 256, (3, *size), dtype=torch.uint8)
        for _ in range(b)
    ]
    samples = []
    for i in range(b):
        s = SegDataSample(metainfo=dict(
            text=SENTENCES[i % len(SENTENCES)], img_shape=size,
            ori_shape=size, pad_shape=size, sample_idx=i))
        gt = torch.zeros((1, *size), dtype=torch.long)
        gt[:, size[0] // 4:size[0] // 2, size[1] // 4:size[1] // 2] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def timed(fn, warmup, iters, device):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return times


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    crop = cfg.model.data_preprocessor.get('size') or (480, 480)
    size = (args.img_size, args.img_size) if args.img_size else tuple(crop)
    cfg.model.data_preprocessor['size'] = size
    torch.manual_seed(0)
    model = build_model(cfg, args)
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    dev = args.device
    amp_dtype = torch.float16 if dev.startswith('cuda') else torch.bfloat16
    batch = make_batch(model, args, size)
    figures = dict(config=args.config, device=dev,
                   device_name=(torch.cuda.get_device_name(0)
                                if dev.startswith('cuda') else
                                f'cpu x{torch.get_num_threads()} threads'),
                   batch_size=args.batch_size, img_size=list(size),
                   amp=args.amp, params_M=round(n_params / 1e6, 2),
                   trainable_params_M=round(n_train / 1e6, 2))

    # ---- FLOPs of one forward pass with a sentence
    model.eval()
    if args.flops or args.flops_only:
        data = model.data_preprocessor(make_batch(model, args, size), False)
        counted = referring_flops(
            model, data['inputs'], data['data_samples'],
            sentence=args.sentence or SENTENCES[0])
        b = max(1, counted['batch_size'])
        figures['GMACs_per_image'] = round(counted['macs'] / b / 1e9, 4)
        figures['GFLOPs_per_image'] = round(counted['flops'] / b / 1e9, 4)
        figures['GMACs_per_part'] = {
            k: round(v / 2 / b / 1e9, 4)
            for k, v in counted['parts'].items()
        }
        figures['flops_sentence'] = counted['sentence']
        print('\nFLOPs (one forward pass, per image)')
        for line in format_flops(counted):
            print(f'  {line}')
    if args.flops_only:
        return _report(figures, args)

    # ---- inference (predict mode, batch of args.batch_size)
    if dev.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()

    def infer():
        with torch.no_grad(), torch.autocast(
                dev.split(':')[0], dtype=amp_dtype, enabled=args.amp):
            model.test_step(batch)

    t = timed(infer, args.warmup, args.iters, dev)
    figures['infer_s_per_image'] = round(
        statistics.median(t) / args.batch_size, 4)
    figures['infer_peak_mem_MiB'] = round(
        torch.cuda.max_memory_allocated() / 2**20 if dev.startswith('cuda')
        else _rss_mib(), 1)

    # ---- training step (forward + backward + AdamW step)
    if not args.skip_train:
        model.train()
        optim_cfg = dict(cfg.optim_wrapper)
        if args.amp:
            optim_cfg['type'] = 'AmpOptimWrapper'
            optim_cfg['dtype'] = 'float16' if dev.startswith(
                'cuda') else 'bfloat16'
        optim = build_optim_wrapper(model, optim_cfg)
        if dev.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()

        def step():
            model.train_step(batch, optim)

        t = timed(step, args.warmup, args.iters, dev)
        figures['train_step_s'] = round(statistics.median(t), 4)
        figures['train_peak_mem_MiB'] = round(
            torch.cuda.max_memory_allocated() / 2**20
            if dev.startswith('cuda') else _rss_mib(), 1)

    return _report(figures, args)


def _report(figures: dict, args) -> dict:
    width = max(len(k) for k in figures)
    print('\nBenchmark')
    for k, v in figures.items():
        print(f'  {k:<{width}}  {v}')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(figures, f, indent=2, ensure_ascii=False)
    return figures


if __name__ == '__main__':
    main()
