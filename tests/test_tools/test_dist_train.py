"""``tools/dist_train.sh`` with two CPU processes (torchrun + gloo)."""
import re

import pytest
from tool_test_utils import (CONFIG, cfg_options, free_port, run_tool, tail,
                             tool_env, val_iters_per_rank)

MAX_ITERS = 2
VAL_BATCH = 2


# channels_last: DDP's gradient buckets with channels-last weights
@pytest.mark.parametrize('channels_last', [False, True])
def test_dist_train_two_cpu_processes(refseg_data, tmp_path, channels_last):
    work_dir = tmp_path / 'work'
    opts = cfg_options(
        refseg_data['root'], **{
            'train_cfg.max_iters': MAX_ITERS,
            'train_cfg.val_interval': MAX_ITERS,
            'val_dataloader.batch_size': VAL_BATCH,
            'model.channels_last': channels_last,
        })
    rc, out = run_tool(
        ['bash', 'tools/dist_train.sh', CONFIG, 2, '--work-dir', work_dir,
         '--cfg-options', *opts],
        tmp_path / 'dist_train.log', env=tool_env(PORT=free_port()))
    errors = [ln for ln in out.splitlines()
              if re.match(r'\[rank\d+\]: \w*(Error|Exception)', ln)]
    assert rc == 0, (f'dist_train.sh exited {rc}; rank errors:\n' +
                     '\n'.join(errors) + f'\n\n{tail(out, 40)}')
    assert 'Traceback' not in out, tail(out, 80)

    # the runner ran distributed, on 2 processes, over gloo
    assert 'Distributed launcher: pytorch' in out
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out  # MMEngine's name for the world size
    assert re.search(r"dist_cfg: \{'backend': 'gloo'", out), tail(out)

    # both ranks trained and validated: each rank validated half of the
    # expressions, and the metric saw all of them (results gathered)
    n_val = refseg_data['num_val']
    assert f'Iter(train) [{MAX_ITERS}/{MAX_ITERS}]' in out
    k = val_iters_per_rank(n_val, world_size=2, batch_size=VAL_BATCH)
    assert f'Iter(val) [{k}/{k}]' in out, (
        f'expected {k} val iterations per rank:\n{tail(out)}')
    assert f'{n_val} expressions' in out, tail(out)

    # a checkpoint was written (by rank 0) and loads through the safe loader
    ckpt_path = work_dir / f'iter_{MAX_ITERS}.pth'
    assert ckpt_path.is_file(), sorted(p.name for p in work_dir.iterdir())
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith(
        ckpt_path.name)
    import mmrrsis  # noqa: F401
    from mmrrsis.utils import safe_torch_load
    ckpt = safe_torch_load(str(ckpt_path), map_location='cpu')
    assert ckpt['meta']['iter'] == MAX_ITERS
    assert 'optimizer' in ckpt
    # the DDP wrapper is not part of the saved names
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])
