"""The CPU demo: build a synthetic referring dataset, train a small referring
model on it (by default a tiny CroBIM), evaluate it, prove it reads the
sentence, and draw pictures.

    python demo/synthetic_demo.py              # defaults, ~10-15 min, 2 cores
    python demo/synthetic_demo.py --iters 300    # a quick look

Steps (each prints its progress):
1. writes the synthetic dataset (RefSegRS layout) to data/synthetic_refseg
   in the repository, where the tiny configs look for it (``--data-root``
   elsewhere), or reuses it;
2. trains ``configs/crobim/crobim_tiny_synthetic.py`` (CAPM + LGFA + MID on
   a half-width ResNet-18, 3000 iterations) with MMSeg's runner;
   ``--config configs/lavt/lavt_tiny_synthetic.py`` trains the LAVT baseline
   instead (6000 iterations, lower scores: see the README);
3. evaluates on the held-out test split (oIoU, mIoU, Prec@X);
4. evaluates again with the sentences shuffled across samples (the same
   images and masks, other images' sentences): a model that reads the
   sentence must fall far below step 3;
5. writes overlays (image, true mask, predicted mask, sentence) for test
   samples to WORK_DIR/overlays, a contact sheet WORK_DIR/demo_summary.png,
   and a "same image, different sentences" sheet WORK_DIR/demo_same_image.png.

Training is resumable: run the same command again after an interruption and
it continues from the last checkpoint in WORK_DIR.

After the demo, the tools find the same data without any option::

    python tools/train.py configs/crobim/crobim_tiny_synthetic.py
    python tools/test.py configs/crobim/crobim_tiny_synthetic.py \
        work_dirs/demo/iter_3000.pth --show-dir vis
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import mmrrsis  # noqa: E402,F401

# isort: split
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'crobim',
                          'crobim_tiny_synthetic.py')
# where configs/_base_/datasets/synthetic_refseg.py (every tiny config)
# reads the data when the tools run from the repository root
DEFAULT_DATA_ROOT = osp.join(ROOT, 'data', 'synthetic_refseg')
# the demo's generation settings, written beside the data it generated
DATA_PARAMS_FILE = 'demo_data.json'
# Every kind of sentence appears (category with colour or size, absolute
# position, relation to another object); comparative "leftmost" sentences
# are left out and relations kept rare so a from-scratch model learns the
# set within the CPU budget.
DEMO_KIND_WEIGHTS = dict(colour=0.5, position=0.3, size=0.1, extreme=0.0,
                         relation=0.1)


def parse_args():
    p = argparse.ArgumentParser(description='mmrrsis CPU demo')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--data-root', default=DEFAULT_DATA_ROOT,
                   help='where the synthetic data is written (or reused); '
                   'the default is where the tiny configs read it')
    p.add_argument('--iters', type=int, default=None,
                   help='training iterations (default: the config)')
    p.add_argument('--num-train', type=int, default=1500,
                   help='training scenes (2-3 sentences each)')
    p.add_argument('--num-test', type=int, default=100)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--img-size', type=int, default=96,
                   help='synthetic image size (the config resizes to its '
                   'own input size)')
    p.add_argument('--num-overlays', type=int, default=12,
                   help='test samples drawn (at least 1)')
    p.add_argument('--strict', action='store_true',
                   help='exit 1 when a target (oIoU >= 75, shuffled <= '
                   'half) is missed')
    args = p.parse_args()
    if args.num_overlays < 1:
        p.error('--num-overlays must be at least 1 (the contact sheet '
                'needs a picture)')
    return args


def step(msg):
    print(f'\n=== {msg}', flush=True)


def data_params(args):
    """The settings the data is generated with (kept beside it)."""
    return dict(num_images=dict(train=args.num_train,
                                val=args.num_test // 2, test=args.num_test),
                kind_weights=DEMO_KIND_WEIGHTS, img_size=args.img_size,
                seed=args.seed)


def make_data(data_root, args):
    """Generate the data, or reuse it when it is complete and was made
    with the same settings (refuse data made with other settings)."""
    from mmrrsis.datasets.synthetic import generate_synthetic_refseg
    params = data_params(args)
    params_file = osp.join(data_root, DATA_PARAMS_FILE)
    marker = osp.join(data_root, 'output_phrase_test.txt')
    if osp.exists(marker):
        if osp.exists(params_file):
            with open(params_file) as f:
                found = json.load(f)
            if found != params:
                sys.exit(f'{data_root} holds synthetic data generated with '
                         f'other settings ({found}; this run: {params}). '
                         'Pass another --data-root, or move that folder '
                         'away.')
            print(f'reusing {data_root}')
        else:
            print(f'reusing {data_root} (not generated by this demo: its '
                  'size and sentence mix may differ from the README\'s)')
        return
    # no test split file: nothing there, or a generation that was cut off
    # (overwrite replaces only the generated images/, masks/, split files)
    summary = generate_synthetic_refseg(
        data_root,
        num_images=params['num_images'],
        kind_weights=DEMO_KIND_WEIGHTS,
        img_size=args.img_size,
        seed=args.seed,
        overwrite=True)
    with open(params_file, 'w') as f:
        json.dump(params, f, indent=1)
    print(f'wrote {data_root}')
    for split, s in summary['splits'].items():
        print(f'{split:5s}: {s["num_images"]} scenes, {s["num_samples"]} '
              'expressions')


def check_work_dir(args):
    """Refuse a work dir whose checkpoints belong to another config (the
    runner dumps its config next to them): resuming them would fail."""
    ckpts = glob.glob(osp.join(args.work_dir, 'iter_*.pth'))
    if ckpts and not osp.exists(
            osp.join(args.work_dir, osp.basename(args.config))):
        sys.exit(f'{args.work_dir} holds checkpoints of another config (no '
                 f'{osp.basename(args.config)} beside them); pass another '
                 '--work-dir, or move that folder away.')


def build_cfg(args, data_root):
    from mmrrsis.apis.runtime import set_data_root
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    set_data_root(cfg, data_root)
    if args.iters is not None:
        cfg.train_cfg.max_iters = args.iters
        cfg.train_cfg.val_interval = args.iters
        for sched in cfg.param_scheduler:
            if sched.get('end', 0) > args.iters:
                sched['end'] = args.iters
            if sched.get('begin', 0) >= args.iters:
                sched['begin'] = 0
        cfg.default_hooks.checkpoint.interval = min(
            cfg.default_hooks.checkpoint.interval, args.iters)
    cfg.resume = bool(glob.glob(osp.join(args.work_dir, 'iter_*.pth')))
    cfg.randomness = dict(seed=args.seed)
    return cfg


def evaluate(runner, cfg, shuffled):
    from mmengine.runner import TestLoop
    loader = dict(cfg.test_dataloader)
    dataset = dict(loader['dataset'])
    if shuffled:
        dataset = dict(type='ShuffledExpressionDataset', dataset=dataset,
                       seed=cfg.randomness['seed'])
    loader['dataset'] = dataset
    loop = TestLoop(runner, loader, cfg.test_evaluator)
    return loop.run()


def read_test_split(data_root):
    """(id, sentence) pairs of the test split file."""
    with open(osp.join(data_root, 'output_phrase_test.txt')) as f:
        return [ln.strip().split(' ', 1) for ln in f if ln.strip()]


def predict_tile(model, data_root, sid, text, with_gt):
    """Predict one expression and draw it (RGB), with its GT if asked."""
    import cv2

    from mmrrsis.apis import inference_model
    from mmrrsis.datasets.transforms import read_rs_image
    from mmrrsis.visualization import draw_referring_overlay
    img_path = osp.join(data_root, 'images', sid + '.tif')
    gt = None
    if with_gt:
        gt = cv2.imread(osp.join(data_root, 'masks', sid + '.tif'),
                        cv2.IMREAD_GRAYSCALE) > 50
    res = inference_model(model, img_path, text)
    pred = res.pred_sem_seg.data[0].cpu().numpy()
    return draw_referring_overlay(
        read_rs_image(img_path)[..., ::-1], text, pred_mask=pred, gt_mask=gt)


def draw_overlays(model, data_root, out_dir, num):
    import cv2
    os.makedirs(out_dir, exist_ok=True)
    tiles = []
    for sid, text in read_test_split(data_root)[:num]:
        tile = predict_tile(model, data_root, sid, text, with_gt=True)
        cv2.imwrite(osp.join(out_dir, f'{sid}.png'), tile[..., ::-1])
        tiles.append(tile)
    return tiles


def same_image_sheet(model, data_root):
    """One scene, every sentence written for it: the masks must differ."""
    by_scene = {}
    for sid, text in read_test_split(data_root):
        by_scene.setdefault(sid.rsplit('_', 1)[0], []).append((sid, text))
    scene = max(by_scene.values(), key=len)
    return [predict_tile(model, data_root, sid, text, with_gt=False)
            for sid, text in scene]


def contact_sheet(tiles, panel_height, cols=4, scale=2):
    """Drawings in a grid with their panels on one line whatever the
    length of each caption (mmrrsis.visualization.contact_sheet)."""
    from mmrrsis.visualization import contact_sheet as grid
    return grid(tiles, panel_height=panel_height, cols=cols, scale=scale)


def main():
    args = parse_args()
    check_work_dir(args)
    t0 = time.time()
    data_root = osp.abspath(args.data_root)
    os.makedirs(args.work_dir, exist_ok=True)

    step('1/5 synthetic referring dataset')
    make_data(data_root, args)

    step('2/5 training (progress below; Ctrl-C and rerun resumes)')
    cfg = build_cfg(args, data_root)
    runner = Runner.from_cfg(cfg)
    runner.train()
    t_train = time.time() - t0

    step('3/5 evaluation on the held-out test split')
    metrics = evaluate(runner, cfg, shuffled=False)
    step('4/5 the same test split with sentences shuffled across samples')
    shuffled = evaluate(runner, cfg, shuffled=True)

    step('5/5 pictures')
    import cv2
    model = runner.model
    model.cfg = cfg
    model.eval()
    tiles = draw_overlays(model, data_root,
                          osp.join(args.work_dir, 'overlays'),
                          args.num_overlays)
    summary_png = osp.join(args.work_dir, 'demo_summary.png')
    cv2.imwrite(summary_png,
                contact_sheet(tiles, args.img_size)[..., ::-1])
    same_png = osp.join(args.work_dir, 'demo_same_image.png')
    cv2.imwrite(same_png,
                contact_sheet(same_image_sheet(model, data_root),
                              args.img_size, cols=3)[..., ::-1])

    o, s = metrics['oIoU'], shuffled['oIoU']
    report = dict(
        test=metrics, shuffled_sentences=shuffled,
        train_plus_data_minutes=round(t_train / 60, 2),
        total_minutes=round((time.time() - t0) / 60, 2),
        targets=dict(oIoU_at_least_75=o >= 75.0,
                     shuffled_at_most_half=s <= o / 2))
    with open(osp.join(args.work_dir, 'demo_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    print('\n' + '=' * 64)
    print(f'test oIoU {o:6.2f}   mIoU {metrics["mIoU"]:6.2f}   '
          f'Prec@0.5 {metrics["Prec@0.5"]:6.2f}')
    print(f'shuffled sentences: oIoU {s:6.2f}   mIoU '
          f'{shuffled["mIoU"]:6.2f}   ({s / max(o, 1e-6):.0%} of the real '
          'sentences)')
    print(f'targets: oIoU >= 75: {"yes" if o >= 75 else "NO"};  shuffled '
          f'<= half: {"yes" if s <= o / 2 else "NO"}')
    print(f'time: {report["total_minutes"]} min  |  pictures: {summary_png}, '
          f'{same_png}, {osp.join(args.work_dir, "overlays")}/')
    print('=' * 64)
    if args.strict and not all(report['targets'].values()):
        sys.exit(1)


if __name__ == '__main__':
    main()
