"""``tools/train.py --select-on test``: validation (and ``save_best``) on the
test split, as FIANet's official code selects its checkpoint."""
import sys

from mmengine.config import Config
from tool_test_utils import CONFIG, cfg_options, run_tool, tail


def test_train_py_select_on_test(refseg_data, tmp_path):
    work = tmp_path / 'work'
    opts = cfg_options(
        refseg_data['root'], **{
            'train_cfg.max_iters': 1,
            'train_cfg.val_interval': 1,
            'default_hooks.checkpoint.interval': 1,
            # only the test split exists under this name: validating on it
            # proves the val loop reads the test dataset
            'val_dataloader.dataset.data_root': tmp_path / 'no_val_here',
        })
    rc, out = run_tool(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
         '--select-on', 'test', '--cfg-options', *opts],
        tmp_path / 'train.log')
    assert rc == 0, f'tools/train.py exited {rc}:\n{tail(out, 80)}'
    assert 'Model selection on the TEST split' in out
    val_lines = [ln for ln in out.splitlines()
                 if 'Iter(val)' in ln and 'oIoU:' in ln]
    assert val_lines, tail(out)
    n = refseg_data['num_test']
    assert f'RefSegMetric (eval_resolution=original, {n} expressions' in out
    assert list(work.glob('best_oIoU_iter_1.pth')), sorted(work.iterdir())
    dumped = Config.fromfile(str(work / 'lavt_tiny_synthetic.py'))
    assert dumped.selection_split == 'test'
    assert dumped.val_dataloader.dataset.split == 'test'
