"""The project's config trains with the repository's tools/train.py: its
``custom_imports`` registers the project's modules, which then make up the
model (a few iterations on a tiny synthetic set, a subprocess as a user
runs it)."""
import os
import os.path as osp
import subprocess
import sys

from mmrrsis.datasets.synthetic import generate_synthetic_refseg
from mmrrsis.utils import safe_torch_load

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(REPO_ROOT, 'projects', 'example_project', 'configs',
                  'gated_film_tiny_synthetic.py')


def test_train_a_few_iterations(tmp_path):
    data = str(tmp_path / 'data')
    generate_synthetic_refseg(data, dict(train=2, val=1, test=1),
                              img_size=64, seed=0)
    work_dir = str(tmp_path / 'work')
    options = [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'
    ]
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.batch_size=2',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    env = dict(os.environ, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
               OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir,
         '--data-root', data, '--cfg-options', *options],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    ckpt = safe_torch_load(osp.join(work_dir, 'iter_2.pth'),
                           map_location='cpu')
    keys = ckpt['state_dict']
    # the project's modules, not the base's PWAM / LAVT decoder
    assert {f'fusions.{i}.gate' for i in range(4)} <= set(keys)
    assert 'decode_head.film.weight' in keys
    assert not any('f_query' in k or 'fuse_blocks' in k for k in keys)
    assert 'oIoU' in out  # the validation ran
    # the block follows the current fusion protocol (no deprecation path)
    assert 'does not derive from BaseReferringFusion' not in out
