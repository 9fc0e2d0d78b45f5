"""Run MMSegmentation's own tools on mmrrsis configs.

::

    python -m mmrrsis.mmseg_tools                     # list the tools
    python -m mmrrsis.mmseg_tools print_config \\
        configs/lavt/lavt_tiny_synthetic.py
    python -m mmrrsis.mmseg_tools get_flops \\
        configs/lavt/lavt_tiny_synthetic.py \\
        --shape 96 --sentence "the red building at the top left"
    python -m mmrrsis.mmseg_tools analysis_tools/browse_dataset CONFIG \\
        --output-dir browse --not-show

The tool name is its path under ``mmseg/.mim/tools`` without ``.py``
(``misc/print_config``), or just the file name when that is unique
(``print_config``, ``get_flops``). Everything after it is passed to the tool
unchanged.

**Why a launcher.** Several MMSeg tools import ``mmseg.apis`` or
``mmseg.models`` on their first lines, before the config's
``custom_imports`` can import mmrrsis. In the quick install (mmcv-lite, no
compiled ops) ``mmseg.models`` needs the ``mmcv.ops`` stand-in that
``import mmrrsis`` installs, so those tools stopped with ``No module named
'mmcv._ext'``. This module imports mmrrsis first and then runs the tool
file unchanged (``runpy``, as ``python tool.py`` would). Rejected: a
``.pth`` or ``sitecustomize`` hook (runs in every Python process of the
environment, invisible), a fake ``mmcv/_ext`` written into mmcv's folder
(lost on reinstall, and it would make mmcv and :func:`has_compiled_mmcv_ops`
believe ~100 compiled ops exist), and edits of MMSeg's files.

What the launcher adds for referring configs, per tool:

* ``get_flops``: MMSeg's tool feeds an image only; a referring model needs a
  sentence. Its counter (``mmengine.analysis.get_model_complexity_info``) is
  replaced, for referring models only, by :func:`referring_flops` with a
  fixed sentence (``--sentence`` to choose one), and the tool prints which
  sentence it counted. ``tools/analysis_tools/benchmark.py --flops`` gives
  the same count with a breakdown per module.
* ``analyze_logs``: needs seaborn only for ``sns.set_style``; when seaborn
  is not installed (our requirements leave it out: it pulls pandas) a
  stand-in applies matplotlib's own copy of seaborn's styles.
* ``publish_model``: its ``torch.load`` runs through mmrrsis's safe loader
  (``weights_only`` with MMEngine's types), so MMEngine checkpoints load on
  torch >= 2.6.
* Tools that cannot give a referring model its sentence stop with an
  explanation and the mmrrsis tool to use instead (exit code 2):
  ``visualization_cam``, ``pytorch2torchscript``, the ``torchserve`` tools,
  and ``test --out`` (MMSeg's result files; ``tools/test.py --out`` writes
  the per-expression IoU). On configs without a text encoder they run as
  MMSeg ships them.
"""
import os
import os.path as osp
import runpy
import sys
import types
from typing import Dict, List, Optional, Sequence

#: Sentence counted by ``get_flops`` when ``--sentence`` is not given.
FLOPS_SENTENCE = 'the storage tank at the bottom left of the harbor'

#: tool -> why it does not apply to a referring config, and what does.
NOT_FOR_REFERRING: Dict[str, str] = {
    'analysis_tools/visualization_cam': (
        'Grad-CAM via MMSeg\'s inference_model(model, img), which passes no '
        'sentence (and needs the grad-cam package). For a referring model '
        'use demo/image_demo.py IMG "SENTENCE" CONFIG CKPT or '
        'mmrrsis.apis.inference_model(model, img, sentence).'),
    'deployment/pytorch2torchscript': (
        'TorchScript tracing of an image-only forward (forward_dummy, '
        'removed in MMSeg 1.x); a referring model tokenises its sentence '
        'inside the model, which a trace cannot capture. Run it in Python '
        'with mmrrsis.apis.RefSegInferencer.'),
    'torchserve/mmseg2torchserve': (
        'a TorchServe handler that calls inference_model(model, image) '
        'without a sentence. Serve mmrrsis.apis.RefSegInferencer instead.'),
    'torchserve/mmseg_handler': (
        'a TorchServe handler that calls inference_model(model, image) '
        'without a sentence. Serve mmrrsis.apis.RefSegInferencer instead.'),
    'torchserve/test_torchserve': (
        'it compares TorchServe with inference_model(model, image), '
        'without a sentence.'),
}

#: One line per tool for ``--list``.
NOTES: Dict[str, str] = {
    'train': 'train (tools/train.py adds --select-on, resume checks)',
    'test': 'test (tools/test.py adds --out per-expression IoU json)',
    'misc/print_config': 'print the resolved config (writes example.py)',
    'misc/browse_dataset': 'draw dataset samples after the pipeline',
    'analysis_tools/browse_dataset': 'draw dataset samples',
    'misc/publish_model': 'strip the optimiser, add the sha256 to the name',
    'analysis_tools/get_flops': 'FLOPs (referring: with a sentence)',
    'analysis_tools/benchmark': 'inference fps on the test set (checkpoint)',
    'analysis_tools/analyze_logs': 'plot curves from vis_data/*.json',
    'analysis_tools/confusion_matrix': (
        'pixel confusion matrix from label PNGs, one per test sample in '
        'dataset order'),
}


def mmseg_tools_dir() -> str:
    """``mmseg/.mim/tools`` of the installed MMSegmentation."""
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')


def available_tools(root: Optional[str] = None) -> List[str]:
    """Every Python tool under ``mmseg/.mim/tools`` (``dir/name``)."""
    root = root or mmseg_tools_dir()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('__'))
        for name in sorted(filenames):
            if name.endswith('.py') and not name.startswith('_'):
                rel = osp.relpath(osp.join(dirpath, name), root)
                found.append(rel[:-3].replace(os.sep, '/'))
    return found


def resolve_tool(name: str, root: Optional[str] = None) -> str:
    """The tool key (``dir/name``) for ``name`` (key, file name, or either
    with ``.py``).

    Raises:
        SystemExit: unknown or ambiguous name (the message lists matches).
    """
    tools = available_tools(root)
    key = name[:-3] if name.endswith('.py') else name
    key = key.replace(os.sep, '/').strip('/')
    if key in tools:
        return key
    matches = [t for t in tools if t.rsplit('/', 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SystemExit(f'mmseg_tools: {name!r} is ambiguous: '
                         + ', '.join(matches))
    raise SystemExit(f'mmseg_tools: no MMSeg tool {name!r}; run python -m '
                     'mmrrsis.mmseg_tools to list them')


def _config_arg(args: Sequence[str]) -> Optional[str]:
    for arg in args:
        if arg.endswith('.py') and osp.isfile(arg):
            return arg
    return None


def config_is_referring(path: str) -> bool:
    """Whether the config at ``path`` builds a model with a text encoder."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    model = cfg.get('model') or {}
    return model.get('text_encoder') is not None or model.get(
        'type') == 'ReferringEncoderDecoder'


def _pop_option(args: List[str], flag: str) -> Optional[str]:
    """Remove ``flag VALUE`` / ``flag=VALUE`` from ``args``; its value."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
            del args[i:i + 2]
            return value
        if arg.startswith(flag + '='):
            del args[i]
            return arg.split('=', 1)[1]
    return None


# ---------------------------------------------------------------- adapters
def _adapt_get_flops(args: List[str]) -> None:
    """Count referring models with a sentence in MMSeg's get_flops."""
    import mmengine.analysis as analysis

    from mmrrsis.utils.complexity import (format_flops, is_referring_model,
                                          referring_flops)
    sentence = _pop_option(args, '--sentence') or FLOPS_SENTENCE
    original = analysis.get_model_complexity_info

    def get_model_complexity_info(model, input_shape=None, inputs=None,
                                  show_table=True, show_arch=True):
        if not is_referring_model(model):
            return original(model, input_shape, inputs=inputs,
                            show_table=show_table, show_arch=show_arch)
        if inputs is None:
            import torch
            inputs = torch.rand(1, *input_shape)
        elif isinstance(inputs, (tuple, list)):
            inputs = inputs[0]
        device = next(model.parameters()).device
        result = referring_flops(model, inputs.to(device), sentence=sentence)
        print('mmrrsis: a referring model reads a sentence; MMSeg\'s '
              'get_flops gives it none, so this count uses one '
              '(--sentence to choose; tools/analysis_tools/benchmark.py '
              'CONFIG --flops gives the same count):')
        for line in format_flops(result):
            print(f'  {line}')
        # MMSeg prints these as "Flops" (fvcore convention: multiply-adds)
        return dict(flops=result['macs'], params=result['params'],
                    out_table='', out_arch='')

    analysis.get_model_complexity_info = get_model_complexity_info


def _adapt_analyze_logs(args: List[str]) -> None:
    """A seaborn stand-in for ``sns.set_style`` when seaborn is missing."""
    try:
        import seaborn  # noqa: F401
        return
    except ImportError:
        pass
    stand_in = types.ModuleType('seaborn')
    stand_in.__doc__ = ('mmrrsis stand-in: set_style() applies matplotlib\'s '
                        'copy of the seaborn style (seaborn not installed).')

    def set_style(style='darkgrid', rc=None):
        import matplotlib.pyplot as plt
        name = f'seaborn-v0_8-{style}'
        if name in plt.style.available:
            plt.style.use(name)
        if rc:
            plt.rcParams.update(rc)

    stand_in.set_style = set_style
    stand_in.MMRRSIS_STAND_IN = True
    sys.modules['seaborn'] = stand_in
    if '--backend' not in args and not any(
            a.startswith('--backend=') for a in args) and not os.environ.get(
                'DISPLAY'):
        args += ['--backend', 'agg']


def _adapt_publish_model(args: List[str]) -> None:
    """``torch.load`` of MMEngine checkpoints on torch >= 2.6."""
    import torch

    from mmrrsis.utils.compat import safe_torch_load
    original = torch.load

    def load(f, map_location=None, *a, **kw):
        if a or kw:
            return original(f, map_location, *a, **kw)
        return safe_torch_load(f, map_location=map_location)

    torch.load = load


ADAPTERS = {
    'analysis_tools/get_flops': _adapt_get_flops,
    'analysis_tools/analyze_logs': _adapt_analyze_logs,
    'misc/publish_model': _adapt_publish_model,
}


def _refusal(tool: str, args: Sequence[str]) -> Optional[str]:
    """Why ``tool`` cannot run on this (referring) config, or None."""
    checks = dict(NOT_FOR_REFERRING)
    if tool == 'test' and any(a == '--out' or a.startswith('--out=')
                              for a in args):
        checks['test'] = (
            'MMSeg\'s test.py --out asks the metric to keep result files '
            '(keep_results), which RefSegMetric does not do. Use '
            'tools/test.py CONFIG CKPT --out DIR (per-expression IoU json) '
            'or --show-dir DIR (one picture per expression).')
    if tool not in checks:
        return None
    config = _config_arg(args)
    if config is None or not config_is_referring(config):
        return None
    return checks[tool]


def list_tools() -> str:
    lines = [
        'MMSeg tools runnable with mmrrsis configs '
        '(python -m mmrrsis.mmseg_tools TOOL ARGS...):'
    ]
    tools = available_tools()
    for tool in tools:
        if tool in NOT_FOR_REFERRING:
            note = 'not for referring configs (no sentence)'
        else:
            note = NOTES.get(tool, '')
        lines.append(f'  {tool:<40} {note}'.rstrip())
    return '\n'.join(lines)


def run_tool(tool: str, args: Sequence[str]) -> None:
    """Run MMSeg's ``tool`` with ``args`` after ``import mmrrsis``.

    Raises:
        SystemExit: With the tool's own exit status; 2 with an explanation
            when the tool cannot serve a referring config.
    """
    import mmrrsis  # noqa: F401  (mmcv.ops stand-in, registries)
    root = mmseg_tools_dir()
    key = resolve_tool(tool, root)
    args = list(args)
    reason = _refusal(key, args)
    if reason is not None:
        sys.stderr.write(f'mmseg_tools: MMSeg\'s {key}.py does not apply to '
                         f'a referring config: {reason}\n')
        raise SystemExit(2)
    adapter = ADAPTERS.get(key)
    if adapter is not None:
        adapter(args)
    path = osp.join(root, key + '.py')
    sys.argv = [path] + args
    tool_dir = osp.dirname(path)
    if tool_dir not in sys.path:
        sys.path.insert(0, tool_dir)  # as `python tool.py` would
    runpy.run_path(path, run_name='__main__')


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help', '--list', 'list'):
        print(__doc__.split('\n\n')[0].strip())
        print(list_tools())
        return
    run_tool(argv[0], argv[1:])


if __name__ == '__main__':
    main()
