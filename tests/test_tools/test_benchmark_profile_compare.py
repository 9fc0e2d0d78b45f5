"""``benchmark.py --profile`` and ``--compare`` / ``--compare-cmd``.

The profile and the self-comparison run the tool as a user would (tiny
LAVT, 64 px, one iteration); the flag filtering and the ratio arithmetic
run in-process against a stub "old checkout" whose benchmark knows fewer
flags.
"""
import json
import os.path as osp
import sys
import textwrap

import pytest
from tool_test_utils import CONFIG, REPO_ROOT, load_script, run_tool, tail

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py')
FAST = ['--iters', '1', '--warmup', '0', '--img-size', '64']
FORWARD_PARTS = {'text_encoder', 'backbone', 'fusions', 'decode_head'}


def test_profile_parts_add_up(tmp_path):
    out_json = tmp_path / 'bench.json'
    rc, out = run_tool([sys.executable, TOOL, CONFIG, '--profile',
                        '--json', str(out_json)] + FAST,
                       tmp_path / 'profile.log')
    assert rc == 0, tail(out)
    assert 'Profile: inference' in out and 'Profile: training step' in out
    figures = json.loads(out_json.read_text())
    prof = figures['profile']
    for phase, extra in (('infer', set()),
                         ('train', {'loss', 'backward', 'optimizer_step'})):
        parts = prof[phase]['parts_s']
        assert FORWARD_PARTS | extra <= set(parts), (phase, parts)
        assert all(v >= 0 for v in parts.values())
        # exclusive times: they add up to the profiled total ...
        assert sum(parts.values()) == pytest.approx(
            prof[phase]['total_s'], rel=1e-3, abs=1e-4)
        assert sum(prof[phase]['share'].values()) == pytest.approx(
            1, abs=2e-3)
        # ... and the glue outside every part stays small
        assert prof[phase]['share'].get('other', 0) < 0.2, prof[phase]
        # loose: the hooks do not change the step by orders of magnitude
        # (one iteration each on a shared CPU)
        ratio = prof[phase]['total_s'] / prof[phase]['plain_s']
        assert 0.1 < ratio < 10, (phase, prof[phase])
    assert figures['train_img_per_s'] == pytest.approx(
        1 / figures['train_step_s'], rel=0.05)


@pytest.mark.parametrize('switch', [['--channels-last'], [
    '--cfg-options', 'model.channels_last=True']])
def test_channels_last_is_the_models_switch(tmp_path, switch):
    # the flag and the config option are one mechanism, and the figures
    # report what the model runs with either way
    out_json = tmp_path / 'bench.json'
    rc, out = run_tool([sys.executable, TOOL, CONFIG, '--skip-train',
                        '--json', str(out_json)] + FAST + switch,
                       tmp_path / 'cl.log')
    assert rc == 0, tail(out)
    figures = json.loads(out_json.read_text())
    assert figures['channels_last'] is True
    assert figures['compile'] is False


def test_compare_with_this_checkout(tmp_path):
    out_json = tmp_path / 'compare.json'
    rc, out = run_tool(
        [sys.executable, TOOL, CONFIG, '--skip-train', '--compare',
         REPO_ROOT, '--rounds', '2', '--json', str(out_json)] + FAST,
        tmp_path / 'compare.log', timeout=600)  # four fresh processes
    assert rc == 0, tail(out)
    assert 'round 2/2 done' in out
    assert 'ratio = ours / other' in out
    assert 'inference per image (s)' in out
    result = json.loads(out_json.read_text())
    assert len(result['runs']['ours']) == len(result['runs']['other']) == 2
    # same code both sides: same model, comparable times
    assert result['ratio']['params_M'] == 1
    assert 0.2 < result['ratio']['infer_s_per_image'] < 5
    assert 0.5 < result['ratio']['infer_peak_mem_MiB'] < 2


# ------------------------------------------------------------------ stubs
STUB = textwrap.dedent('''
    import argparse, json, sys
    p = argparse.ArgumentParser()
    p.add_argument('config')
    p.add_argument('--iters', type=int)
    p.add_argument('--warmup', type=int)
    p.add_argument('--img-size', type=int)
    p.add_argument('--json')
    a = p.parse_args()
    with open(a.json, 'w') as f:
        json.dump(dict(argv=sys.argv[1:], params_M=2.0, batch_size=1,
                       train_step_s=2.0, infer_s_per_image=0.5,
                       train_peak_mem_MiB=100.0,
                       infer_peak_mem_MiB=50.0), f)
''')


def _tool_module():
    return load_script(TOOL, 'bench_tool')


@pytest.fixture
def tool(monkeypatch):
    """The tool in-process, its own side replaced by fixed figures."""
    mod = _tool_module()
    real, calls = mod._run_side, []

    def run_side(cmd, cwd, env, json_path, label):
        calls.append((label, cmd))
        if label == 'ours':
            return dict(params_M=1.0, batch_size=1, train_step_s=1.0,
                        infer_s_per_image=0.4, train_peak_mem_MiB=80.0,
                        infer_peak_mem_MiB=60.0, train_img_per_s=1.0,
                        infer_img_per_s=2.5)
        return real(cmd, cwd, env, json_path, label)

    monkeypatch.setattr(mod, '_run_side', run_side)
    return mod, calls


def test_compare_passes_only_known_flags(tool, tmp_path, capsys):
    mod, calls = tool
    other = tmp_path / 'old'
    (other / 'tools' / 'analysis_tools').mkdir(parents=True)
    (other / 'tools' / 'analysis_tools' / 'benchmark.py').write_text(STUB)
    argv = [CONFIG, '--profile', '--compare', str(other), '--rounds', '2',
            '--cfg-options', 'model.decode_head.channels=8',
            'randomness.seed=1', '--iters', '3', '--json',
            str(tmp_path / 'cmp.json')]
    result = mod.compare(mod._parser_for_split().parse_args(argv), argv)
    out = capsys.readouterr().out
    assert 'unknown there): --profile, --cfg-options' in out
    assert [c[0] for c in calls] == ['ours', str(other)] * 2
    ours_cmd = calls[0][1]
    assert '--profile' in ours_cmd and '--compare' not in ours_cmd
    assert ours_cmd[ours_cmd.index('--cfg-options') + 2] == 'randomness.seed=1'
    other_argv = result['runs']['other'][0]['argv']
    assert '--profile' not in other_argv and '--rounds' not in other_argv
    assert other_argv[other_argv.index('--iters') + 1] == '3'
    # the stub has no configs/: it gets ours
    assert other_argv[0] == osp.abspath(CONFIG)
    assert result['ratio']['train_step_s'] == 0.5
    assert result['ratio']['infer_s_per_image'] == 0.8
    assert result['ratio']['infer_img_per_s'] == 1.25
    assert result['ratio']['train_peak_mem_MiB'] == 0.8
    saved = json.loads((tmp_path / 'cmp.json').read_text())
    assert saved['ratio'] == result['ratio']


def test_compare_cmd_writes_to_the_json_placeholder(tool, tmp_path):
    mod, calls = tool
    stub = tmp_path / 'official.py'
    stub.write_text(STUB)
    cmd = f'{sys.executable} {stub} cfg --iters 1 --json {{json}}'
    argv = [CONFIG, '--compare-cmd', cmd, '--rounds', '1']
    result = mod.compare(mod._parser_for_split().parse_args(argv), argv)
    assert calls[1][1].startswith(f'{sys.executable} {stub} cfg')
    assert '{json}' not in calls[1][1]
    assert result['median']['train_step_s'] == dict(ours=1.0, other=2.0)
    with pytest.raises(RuntimeError, match='failed'):
        argv = [CONFIG, '--compare-cmd', f'{sys.executable} -c "exit(3)"']
        mod.compare(mod._parser_for_split().parse_args(argv), argv)
