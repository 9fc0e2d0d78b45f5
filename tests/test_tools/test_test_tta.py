"""``tools/test.py --tta``: the text-aware flip TTA of the config, one merged
prediction per expression for the evaluator and the overlays."""
import importlib.util
import json
import os.path as osp
import sys

from tool_test_utils import (CONFIG, METRIC_KEYS, REPO_ROOT, cfg_options,
                             parse_metrics, run_tool, tail)


def _test_tool():
    spec = importlib.util.spec_from_file_location(
        'mmrrsis_test_tool', osp.join(REPO_ROOT, 'tools', 'test.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tta_run_scores_each_expression_once(refseg_data, tiny_checkpoint,
                                             tmp_path):
    opts = cfg_options(refseg_data['root'],
                       **{'test_dataloader.batch_size': 2})
    show_dir, out_dir = tmp_path / 'show', tmp_path / 'out'
    rc, out = run_tool(
        [sys.executable, 'tools/test.py', CONFIG, tiny_checkpoint, '--tta',
         '--work-dir', tmp_path / 'work', '--show-dir', show_dir,
         '--out', out_dir, '--cfg-options', *opts], tmp_path / 'tta.log')
    assert rc == 0, f'tools/test.py --tta exited {rc}:\n{tail(out, 80)}'
    metrics = parse_metrics(out, 'test')
    assert set(metrics) == set(METRIC_KEYS), metrics
    n = refseg_data['num_test']
    assert f'{n} expressions' in out, tail(out)
    with open(out_dir / 'per_sample_iou.json') as f:
        samples = json.load(f)['samples']
    assert len(samples) == n
    # the sentences as written (the mirrored view's sentence is not the
    # one reported)
    with open(osp.join(refseg_data['root'], 'output_phrase_test.txt')) as f:
        written = sorted(ln.strip().split(' ', 1)[1] for ln in f
                         if ln.strip())
    assert sorted(r['text'] for r in samples) == written
    assert len(list(show_dir.glob('*.png'))) == n


def test_tta_defaults_for_a_config_without_them():
    """A config without tta_pipeline / tta_model (dumped before they
    existed) gets the text-aware flip of its own test pipeline."""
    from mmengine.config import Config

    from mmrrsis.datasets.transforms.flip_tta_pipeline import flip_tta_pipeline
    tool = _test_tool()
    cfg = Config.fromfile(CONFIG)
    test_pipeline = cfg.test_dataloader.dataset.pipeline
    model_type = cfg.model.type
    cfg.tta_pipeline, cfg.tta_model = None, None
    tool.use_tta(cfg)
    assert cfg.model.type == 'ReferringTTAModel'
    assert cfg.model.module.type == model_type
    assert cfg.test_dataloader.dataset.pipeline == flip_tta_pipeline(
        test_pipeline)
    # the config's own settings are kept
    cfg = Config.fromfile(CONFIG)
    tool.use_tta(cfg)
    assert cfg.test_dataloader.dataset.pipeline == Config.fromfile(
        CONFIG).tta_pipeline
