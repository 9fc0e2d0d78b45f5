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

``--profile`` adds the wall time per part for inference and for a training
step (text encoder, backbone without its fusion blocks, fusion blocks, neck,
decode head, auxiliary head, loss, backward, optimiser step; ``other``: the
segmentor's glue), as seconds per iteration and share, measured in extra
iterations with hooks (:class:`mmrrsis.utils.PartTimer`) after the plain
timings, which stay unhooked.

``--compare OTHER_CHECKOUT`` runs this script and the other checkout's
``tools/analysis_tools/benchmark.py`` with the same arguments in fresh
processes, alternately (A B A B ..., ``--rounds``), and prints both sides'
medians and the ratios (ours / other) of the training step, the inference
time per image and the peak memory (flags the other script does not list in
its ``--help`` are dropped). ``--compare-cmd "CMD"`` pairs with any command
that writes the same JSON keys to the path given after ``--json`` (or in
place of ``{json}`` in CMD)::

    python tools/analysis_tools/benchmark.py configs/fianet_swinb.py \
        --img-size 480 --random-text-encoder --compare ../old_checkout

``--compile`` compiles (``torch.compile``, in place) the outermost modules
each part calls (the backbone, or its blocks where fusion runs inside its
stages; fusion blocks, neck, heads; the text encoder stays eager) and
reports the first call, which compiles, apart from the steady state
(``infer_first_s``, ``train_first_step_s``). ``--channels-last`` sets the
model's own switch (``model.channels_last=True``, as a config would).

``--flops`` counts the FLOPs of one forward pass with a sentence (MMSeg's
``get_flops`` gives the model no sentence): torch's ``FlopCounterMode``
(matrix multiplies, convolutions, attention), printed as GMACs per image
(multiply-adds, MMSeg's and most papers' "GFLOPs") and GFLOPs (2 per
multiply-add), split by module (text encoder, backbone, fusion, neck,
head). The count depends on the number of tokens: configs that pad to
``max_length`` (the default) count the same for every sentence.

``--mfu`` counts the FLOPs of one training step (the loss forward pass and
its backward pass, :func:`mmrrsis.utils.complexity.training_flops`) and of
one inference batch, and prints the achieved TFLOP/s and the model FLOPs
utilisation (MFU: achieved / peak). The peak is ``--peak-tflops`` or, on a
known GPU, its data-sheet dense tensor-core figure for the precision
(``--amp --amp-dtype bfloat16``: the 16-bit peak; float32: the TF32 peak).
The count runs before the timings; on the CPU the resident-set high-water
mark cannot be reset, so there the inference peak memory printed with
``--mfu`` includes the counted training step (GPU peaks are reset).
``tools/analysis_tools/benchmark_suite.py`` runs every paper config in
fp32 and bf16, eager and compiled, and tabulates these figures.

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
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from typing import Optional

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

from mmrrsis.utils.bench_timing import peak_memory_mib  # noqa: E402
from mmrrsis.utils.bench_timing import report, timed  # noqa: E402
from mmrrsis.utils.complexity import format_flops  # noqa: E402
from mmrrsis.utils.complexity import peak_tflops  # noqa: E402
from mmrrsis.utils.complexity import referring_flops  # noqa: E402
from mmrrsis.utils.complexity import training_flops  # noqa: E402
from mmrrsis.utils.offline_model import offline_model_cfg  # noqa: E402
from mmrrsis.utils.part_timer import PartTimer, profile_table  # noqa: E402

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Figures compared by --compare: (key, label, higher is better).
COMPARED = [('params_M', 'parameters (M)', None),
            ('train_step_s', 'train step (s)', False),
            ('train_img_per_s', 'train images/s', True),
            ('infer_s_per_image', 'inference per image (s)', False),
            ('infer_img_per_s', 'inference images/s', True),
            ('train_peak_mem_MiB', 'train peak memory (MiB)', False),
            ('infer_peak_mem_MiB', 'inference peak memory (MiB)', False)]
#: Options that --compare handles itself (not passed to either side).
COMPARE_ONLY = ('--compare', '--compare-cmd', '--rounds', '--json')

SENTENCES = [
    'the storage tank at the bottom left of the harbor',
    'the red building to the right of the large pool',
    'the white vehicle on the road at the top',
    'the ship closest to the dock in the middle',
]


def parse_args():
    return _parser_for_split().parse_args()


def _parser_for_split() -> argparse.ArgumentParser:
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
                   help='autocast (bf16 on CPU, fp16 on GPU unless '
                   '--amp-dtype)')
    p.add_argument('--amp-dtype', choices=['float16', 'bfloat16'],
                   help='autocast dtype of --amp')
    p.add_argument('--mfu', action='store_true',
                   help='count the FLOPs of a training step (forward + '
                   'backward) and of an inference batch, and print the '
                   'achieved TFLOP/s and model FLOPs utilisation')
    p.add_argument('--peak-tflops', type=float, default=None,
                   help='peak TFLOP/s for --mfu (default: the data-sheet '
                   'figure of known GPUs for the precision; none on CPU)')
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
    p.add_argument('--profile', action='store_true',
                   help='also time each part (text encoder, backbone, '
                   'fusion, neck, heads, loss, backward, optimiser step)')
    p.add_argument('--compile', action='store_true',
                   help='torch.compile the backbone (its blocks under '
                   'early fusion), fusion blocks, neck and heads')
    p.add_argument('--compile-backend', default='inductor',
                   help='torch.compile backend (eager: check the plumbing)')
    p.add_argument('--channels-last', action='store_true',
                   help='model.channels_last=True: 4-D weights in the '
                   'channels-last memory format')
    p.add_argument('--compare', metavar='OTHER_CHECKOUT',
                   help='run this benchmark and OTHER_CHECKOUT\'s '
                   'alternately and print the ratios (ours / other)')
    p.add_argument('--compare-cmd', metavar='CMD',
                   help='as --compare, against a command that writes the '
                   'same JSON keys to the path after --json (or {json})')
    p.add_argument('--rounds', type=int, default=3,
                   help='rounds of --compare (each runs both sides once)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p


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


def outermost_called(model: torch.nn.Module, run,
                     skip=('data_preprocessor', 'text_encoder')) -> list:
    """The outermost modules under each top-level child of ``model`` (but
    ``skip``) that ``run()`` calls: the backbone itself, or its blocks and
    norms where early fusion drives it stage by stage."""
    called, depth, handles = [], [0], []

    def pre(module, *_):
        if depth[0] == 0 and module not in called:
            called.append(module)
        depth[0] += 1

    def post(*_):
        depth[0] -= 1

    for name, child in model.named_children():
        if name in skip:
            continue
        for module in child.modules():
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return called


def compile_model(model, run, backend: str) -> int:
    """``torch.compile`` in place (``nn.Module.compile``) the modules of
    :func:`outermost_called`; returns how many."""
    import torch._dynamo

    # one compiled graph per block (Swin-B: 24) and shift/size variant
    torch._dynamo.config.cache_size_limit = max(
        64, torch._dynamo.config.cache_size_limit)
    modules = outermost_called(model, run)
    for module in modules:
        module.compile(backend=backend, dynamic=False)
    return len(modules)


def main():
    args = parse_args()
    if args.compare or args.compare_cmd:
        return compare(args)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    crop = cfg.model.data_preprocessor.get('size') or (480, 480)
    size = (args.img_size, args.img_size) if args.img_size else tuple(crop)
    cfg.model.data_preprocessor['size'] = size
    if args.channels_last:
        cfg.model.channels_last = True
    torch.manual_seed(0)
    model = build_model(cfg, args)
    channels_last = bool(getattr(model, 'channels_last', False))
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    dev = args.device
    if args.amp_dtype:
        amp_dtype = getattr(torch, args.amp_dtype)
    else:
        amp_dtype = torch.float16 if dev.startswith(
            'cuda') else torch.bfloat16
    batch = make_batch(model, args, size)
    figures = dict(config=args.config, device=dev,
                   device_name=(torch.cuda.get_device_name(0)
                                if dev.startswith('cuda') else
                                f'cpu x{torch.get_num_threads()} threads'),
                   batch_size=args.batch_size, img_size=list(size),
                   amp=args.amp,
                   precision=({torch.float16: 'fp16', torch.bfloat16: 'bf16'
                               }[amp_dtype] if args.amp else 'fp32'),
                   params_M=round(n_params / 1e6, 2),
                   trainable_params_M=round(n_train / 1e6, 2))
    if args.compile or channels_last:
        figures.update(compile=args.compile, channels_last=channels_last)

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
        return report(figures, 'Benchmark', args.json)
    mfu_flops = count_mfu_flops(model, args, size) if args.mfu else None

    # ---- inference (predict mode, batch of args.batch_size)
    def infer():
        with torch.no_grad(), torch.autocast(
                dev.split(':')[0], dtype=amp_dtype, enabled=args.amp):
            model.test_step(batch)

    first = [] if args.compile else None
    warmup = max(args.warmup, 1) if args.compile else args.warmup
    if args.compile:
        figures['compiled_modules'] = compile_model(
            model, infer, args.compile_backend)
    if dev.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    t = timed(infer, warmup, args.iters, dev, first)
    figures['infer_s_per_image'] = round(
        statistics.median(t) / args.batch_size, 4)
    phase_figures(figures, 'infer', t, first, mfu_flops, args)
    profile = {}
    if args.profile:
        timer = PartTimer(model, dev)
        for _ in range(max(1, args.iters)):
            with timer.track():
                infer()
        profile['infer'] = _profile_figures(
            timer, args.iters, statistics.median(t))

    # ---- training step (forward + backward + AdamW step)
    if not args.skip_train:
        model.train()
        optim_cfg = dict(cfg.optim_wrapper)
        # MMEngine's AmpOptimWrapper refuses the CPU: there the step runs
        # under a bf16 autocast context with the plain wrapper (bf16 needs
        # no loss scaling)
        cpu_amp = args.amp and not dev.startswith('cuda')
        if args.amp and not cpu_amp:
            optim_cfg['type'] = 'AmpOptimWrapper'
            optim_cfg['dtype'] = {
                torch.float16: 'float16', torch.bfloat16: 'bfloat16'
            }[amp_dtype]
        optim = build_optim_wrapper(model, optim_cfg)
        if dev.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()

        def step():
            with torch.autocast('cpu', dtype=amp_dtype, enabled=cpu_amp):
                model.train_step(batch, optim)

        first = [] if args.compile else None
        t = timed(step, warmup, args.iters, dev, first)
        figures['train_step_s'] = round(statistics.median(t), 4)
        phase_figures(figures, 'train', t, first, mfu_flops, args)
        if args.profile:
            timer = PartTimer(model, dev)
            for _ in range(max(1, args.iters)):
                with torch.autocast('cpu', dtype=amp_dtype,
                                    enabled=cpu_amp):
                    profiled_train_step(model, batch, optim, timer)
            profile['train'] = _profile_figures(
                timer, args.iters, statistics.median(t))
    if profile:
        figures['profile'] = profile
        for phase, title in (('infer', 'inference (one batch)'),
                             ('train', 'training step')):
            if phase in profile:
                print()
                for line in profile_table(
                        profile[phase]['parts_s'], 1,
                        f'Profile: {title}, s per iteration',
                        profile[phase]['plain_s']):
                    print(line)

    return report(figures, 'Benchmark', args.json)


def phase_figures(figures: dict, phase: str, times: list,
                  first: Optional[list], mfu_flops: Optional[dict],
                  args) -> None:
    """Add a timed phase's (``'infer'`` or ``'train'``) images/s, first
    (compiling) call, utilisation with ``--mfu`` and peak memory to
    ``figures``, in that order."""
    median = statistics.median(times)
    figures[f'{phase}_img_per_s'] = round(
        args.batch_size / max(median, 1e-9), 2)
    if first:
        key = 'infer_first_s' if phase == 'infer' else 'train_first_step_s'
        figures[key] = round(first[0], 3)
    if mfu_flops:
        figures.update(utilisation(phase, mfu_flops[phase], median,
                                   _peak(args, figures)))
    figures[f'{phase}_peak_mem_MiB'] = peak_memory_mib(args.device)


def count_mfu_flops(model, args, size) -> dict:
    """FLOPs of one inference batch and one training step (forward +
    backward) of ``args.batch_size`` images, counted eagerly in float32
    (autocast does not change the count)."""
    batch = make_batch(model, args, size)
    model.eval()
    data = model.data_preprocessor(batch, False)
    infer = referring_flops(model, data['inputs'], data['data_samples'])
    model.train()
    data = model.data_preprocessor(make_batch(model, args, size), True)
    train = training_flops(model, data['inputs'], data['data_samples'])
    model.eval()
    return dict(infer=infer['flops'], train=train['flops'])


def _peak(args, figures: dict) -> Optional[float]:
    if args.peak_tflops:
        return args.peak_tflops
    if not args.device.startswith('cuda'):
        return None
    return peak_tflops(figures['device_name'], figures['precision'])


def utilisation(phase: str, flops: int, seconds: float,
                peak: Optional[float]) -> dict:
    """``{phase}_TFLOP`` (one batch), ``{phase}_TFLOPs_achieved`` and,
    with a peak, ``{phase}_MFU`` (achieved / peak) and ``peak_TFLOPs``."""
    achieved = flops / max(seconds, 1e-12) / 1e12
    out = {f'{phase}_TFLOP': round(flops / 1e12, 6),
           f'{phase}_TFLOPs_achieved': round(achieved, 3)}
    if peak:
        out[f'{phase}_MFU'] = round(achieved / peak, 4)
        out['peak_TFLOPs'] = peak
    return out


def profiled_train_step(model, batch, optim, timer: PartTimer) -> None:
    """``model.train_step`` (forward, ``parse_losses``, backward, optimiser
    step, zero_grad) with the forward's parts, the backward and the
    optimiser step charged to ``timer``."""
    with timer.track():
        with optim.optim_context(model):
            data = model.data_preprocessor(batch, True)
            losses = model._run_forward(data, mode='loss')
        parsed, _ = model.parse_losses(losses)
    with timer.phase('backward'):
        optim.backward(parsed)
    with timer.phase('optimizer_step'):
        optim.step()
        optim.zero_grad()


def _profile_figures(timer: PartTimer, iters: int, plain_s: float) -> dict:
    n = max(1, iters)
    parts = {k: round(v / n, 5) for k, v in sorted(
        timer.seconds.items(), key=lambda kv: -kv[1])}
    total = sum(timer.seconds.values()) / n
    return dict(parts_s=parts,
                share={k: round(v / n / max(total, 1e-12), 4)
                       for k, v in timer.seconds.items()},
                total_s=round(total, 5), plain_s=round(plain_s, 5))


# ------------------------------------------------------------------ compare
def _split_argv(parser: argparse.ArgumentParser, argv: list):
    """``(positionals, [(option, [tokens...]), ...])`` of ``argv``."""
    actions = parser._option_string_actions
    positionals, groups, i = [], [], 0
    while i < len(argv):
        tok = argv[i]
        opt = tok.split('=', 1)[0]
        if tok.startswith('--') and opt in actions:
            action, group = actions[opt], [tok]
            i += 1
            if '=' not in tok:
                nargs = action.nargs
                if nargs is None:
                    nargs = 0 if isinstance(action, (
                        argparse._StoreTrueAction,
                        argparse._StoreFalseAction)) else 1
                if nargs == '+' or nargs == '*':
                    while i < len(argv) and not argv[i].startswith('--'):
                        group.append(argv[i])
                        i += 1
                else:
                    group += argv[i:i + int(nargs)]
                    i += int(nargs)
            groups.append((opt, group))
        else:
            positionals.append(tok)
            i += 1
    return positionals, groups


def _known_flags(script: str, cwd: str, env: dict) -> set:
    """Option strings listed in ``script --help``."""
    out = subprocess.run([sys.executable, script, '--help'], cwd=cwd,
                         env=env, capture_output=True, text=True)

    return set(re.findall(r'(--[A-Za-z0-9][A-Za-z0-9_-]*)', out.stdout))


def _run_side(cmd, cwd: str, env: dict, json_path: str, label: str) -> dict:
    if osp.exists(json_path):
        os.remove(json_path)
    shell = isinstance(cmd, str)
    res = subprocess.run(cmd, cwd=cwd, env=env, shell=shell,
                         capture_output=True, text=True)
    if res.returncode != 0 or not osp.exists(json_path):
        raise RuntimeError(
            f'{label} failed (exit {res.returncode}): '
            f'{cmd if shell else shlex.join(cmd)}\n'
            f'{(res.stdout + res.stderr)[-3000:]}')
    with open(json_path, encoding='utf-8') as f:
        figures = json.load(f)
    bs = figures.get('batch_size', 1) or 1
    if 'train_img_per_s' not in figures and figures.get('train_step_s'):
        figures['train_img_per_s'] = bs / figures['train_step_s']
    if 'infer_img_per_s' not in figures and figures.get('infer_s_per_image'):
        figures['infer_img_per_s'] = 1 / figures['infer_s_per_image']
    return figures


def compare(args, argv: Optional[list] = None) -> dict:
    """Run ours and the other side alternately; print medians and ratios."""
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser_for_split()
    positionals, groups = _split_argv(parser, argv)
    groups = [(o, g) for o, g in groups if o not in COMPARE_ONLY]
    config = osp.abspath(positionals[0])
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix='mmrrsis_compare_')
    ours_json, other_json = osp.join(tmp, 'ours.json'), osp.join(
        tmp, 'other.json')
    flags = [tok for _, g in groups for tok in g]
    ours_cmd = [sys.executable, osp.abspath(__file__), config] + flags + [
        '--json', ours_json]
    ours_env = dict(env, PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p))
    if args.compare:
        other_root = osp.abspath(args.compare)
        script = osp.join(other_root, 'tools', 'analysis_tools',
                          'benchmark.py')
        if not osp.isfile(script):
            raise FileNotFoundError(f'{script} does not exist')
        other_env = dict(env, PYTHONPATH=os.pathsep.join(
            p for p in (other_root, env.get('PYTHONPATH')) if p))
        known = _known_flags(script, other_root, other_env)
        dropped = [o for o, _ in groups if o not in known]
        if dropped:
            print(f'not passed to the other checkout (unknown there): '
                  f'{", ".join(dropped)}')
        rel = osp.relpath(config, REPO_ROOT)
        other_config = osp.join(other_root, rel)
        if rel.startswith('..') or not osp.isfile(other_config):
            other_config = config
        other_cmd = [sys.executable, script, other_config] + [
            tok for o, g in groups if o in known for tok in g
        ] + ['--json', other_json]
        other_cwd, other_label = other_root, other_root
    else:
        cmd = args.compare_cmd
        q = shlex.quote(other_json)
        other_cmd = (cmd.replace('{json}', q) if '{json}' in cmd else
                     f'{cmd} --json {q}')
        other_env, other_cwd, other_label = env, os.getcwd(), cmd
    print(f'ours:  {shlex.join(ours_cmd)}')
    print('other: ' + (other_cmd if isinstance(other_cmd, str)
                       else shlex.join(other_cmd)))
    runs = dict(ours=[], other=[])
    for r in range(max(1, args.rounds)):
        runs['ours'].append(_run_side(ours_cmd, REPO_ROOT, ours_env,
                                      ours_json, 'ours'))
        runs['other'].append(_run_side(other_cmd, other_cwd, other_env,
                                       other_json, other_label))
        print(f'round {r + 1}/{args.rounds} done')
    result = dict(ours_cmd=shlex.join(ours_cmd),
                  other_cmd=(other_cmd if isinstance(other_cmd, str) else
                             shlex.join(other_cmd)),
                  rounds=max(1, args.rounds), median={}, ratio={},
                  runs=runs)
    for key, _, _ in COMPARED:
        med = {}
        for side in ('ours', 'other'):
            vals = [f[key] for f in runs[side] if f.get(key) is not None]
            if vals:
                med[side] = statistics.median(vals)
        if len(med) == 2:
            result['median'][key] = med
            result['ratio'][key] = round(
                med['ours'] / med['other'], 4) if med['other'] else None
    print(f'\nComparison ({result["rounds"]} rounds, alternating; medians; '
          'ratio = ours / other)')
    width = max(len(label) for _, label, _ in COMPARED)
    print(f'  {"":<{width}}  {"ours":>10}  {"other":>10}  {"ratio":>7}')
    for key, label, _ in COMPARED:
        if key in result['median']:
            m = result['median'][key]
            ratio = result['ratio'][key]
            print(f'  {label:<{width}}  {m["ours"]:>10.4g}  '
                  f'{m["other"]:>10.4g}  '
                  f'{ratio if ratio is not None else float("nan"):>7.3f}')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=2, ensure_ascii=False)
    return result


if __name__ == '__main__':
    main()
