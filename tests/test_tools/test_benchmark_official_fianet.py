"""``tools/analysis_tools/benchmark_official_fianet.py``: the stand-ins it
installs for the official FIANet code (and that they leave ``sys.modules``,
``sys.path``, ``Tensor.cuda`` and the BERT class as they were), the official
parameter groups, the batch, and the whole measurement on a small fake
checkout written here (our own code with the official import layout).

With ``MMRRSIS_OFFICIAL_FIANET=/path/to/FIANet`` (a checkout of GitHub
Shaosifan/FIANet, never part of this repository) the script also runs the
official model on a tiny preset; without it that test is skipped.
"""
import ast
import importlib
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from tool_test_utils import REPO_ROOT, load_script, tail, tool_env

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                  'benchmark_official_fianet.py')
KEYS = ('params_M', 'train_step_s', 'infer_s_per_image',
        'train_peak_mem_MiB', 'infer_peak_mem_MiB', 'img_size',
        'batch_size')


def _load_script():
    return load_script(SCRIPT)


bench = _load_script()

# A fake checkout with the official import layout: lib/segmentation.py (timm,
# mmseg 0.x and lib.mmcv_custom helpers, BertModel.from_pretrained),
# loss/loss.py (class weights moved with .cuda()), bert/. Tiny model.
FAKE_FILES = {
    'lib/segmentation.py': '''
        import torch
        import torch.nn.functional as F
        from bert.modeling_bert import BertModel
        from mmseg.utils import get_root_logger
        from timm.models.layers import DropPath, to_2tuple, trunc_normal_
        from torch import nn

        from .mmcv_custom import load_checkpoint


        class MultiModalSwinTransformer(nn.Module):
            def __init__(self, embed_dim=96, depths=(2, 2, 6, 2),
                         drop_path_rate=0.2, **kwargs):
                super().__init__()
                self.depths = list(depths)
                self.drop_path_rate = drop_path_rate
                self.patch_embed = nn.Conv2d(3, 8, 4, stride=4)
                self.norm0 = nn.LayerNorm(8)
                self.proj = nn.Linear(8, 8)
                self.drop_path = DropPath(drop_path_rate)
                self.patch_size = to_2tuple(4)

            def init_weights(self, pretrained=None):
                if pretrained:
                    load_checkpoint(self, pretrained, logger=get_root_logger())
                trunc_normal_(self.proj.weight, std=.02)

            def forward(self, x, l, l_mask, t, t_mask, p, p_mask):
                x = self.norm0(self.patch_embed(x).permute(0, 2, 3, 1))
                x = x + self.drop_path(self.proj(x))
                text = (l * l_mask.transpose(1, 2)).sum(-1)
                return x.permute(0, 3, 1, 2) * text[:, :, None, None]


        class LAVTOne(nn.Module):
            def __init__(self, backbone, classifier, args):
                super().__init__()
                self.backbone = backbone
                self.classifier = classifier
                self.text_encoder = BertModel.from_pretrained(args.ck_bert)

            def forward(self, x, text, l_mask, t_mask, p_mask):
                feats = []
                for mask in (l_mask, t_mask, p_mask):
                    f = self.text_encoder(text, attention_mask=mask)[0]
                    feats += [f.permute(0, 2, 1), mask.unsqueeze(-1)]
                y = self.classifier(self.backbone(x, *feats))
                return F.interpolate(y, size=x.shape[-2:], mode='bilinear',
                                     align_corners=True)


        def lavt_one(pretrained='', args=None):
            backbone = MultiModalSwinTransformer(
                embed_dim=128, depths=[2, 2, 18, 2], drop_path_rate=0.3)
            backbone.init_weights()
            return LAVTOne(backbone, nn.Conv2d(8, 2, 1), args)
    ''',
    'lib/_utils.py': '',
    'bert/configuration_bert.py': '''
        class BertConfig:
            def __init__(self, vocab_size=30522, hidden_size=8,
                         num_hidden_layers=12):
                self.vocab_size = vocab_size
                self.hidden_size = hidden_size
                self.num_hidden_layers = num_hidden_layers
    ''',
    'bert/modeling_bert.py': '''
        import torch
        from torch import nn


        class PreTrainedModel(nn.Module):
            @classmethod
            def from_pretrained(cls, name, *args, **kwargs):
                raise RuntimeError('would download ' + name)


        class BertModel(PreTrainedModel):
            def __init__(self, config):
                super().__init__()
                self.embeddings = nn.Embedding(config.vocab_size,
                                               config.hidden_size)
                self.encoder = nn.Module()
                self.encoder.layer = nn.ModuleList(
                    nn.Linear(config.hidden_size, config.hidden_size)
                    for _ in range(config.num_hidden_layers))

            def forward(self, ids, attention_mask=None):
                x = self.embeddings(ids)
                for layer in self.encoder.layer:
                    x = torch.tanh(layer(x))
                return (x, )
    ''',
    'loss/loss.py': '''
        import torch


        class Loss:
            def __init__(self, weight=0.1):
                self.ce_loss = torch.nn.CrossEntropyLoss(
                    weight=torch.FloatTensor([0.9, 1.1]).cuda())
                self.weight = weight

            def __call__(self, pred, targ):
                return self.ce_loss(pred, targ)
    ''',
}
SCOPED = ('lib', 'bert', 'loss', 'timm', 'timm.models', 'timm.models.layers',
          'lib.mmcv_custom', 'requests', 'mmseg', 'mmseg.utils')


@pytest.fixture
def fake_root(tmp_path) -> str:
    for rel, text in FAKE_FILES.items():
        path = tmp_path / 'FIANet' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return str(tmp_path / 'FIANet')


def _state():
    return ({n: sys.modules.get(n) for n in SCOPED},
            sorted(n for n in sys.modules
                   if n.split('.')[0] in ('lib', 'bert', 'loss', 'timm')),
            list(sys.path))


def test_sentences_are_benchmarks():
    """The batch reads the sentences of benchmark.py (parsed, not run)."""
    tree = ast.parse(Path(REPO_ROOT, 'tools', 'analysis_tools',
                          'benchmark.py').read_text())
    found = [
        ast.literal_eval(node.value) for node in tree.body
        if isinstance(node, ast.Assign) and any(
            getattr(t, 'id', None) == 'SENTENCES' for t in node.targets)
    ]
    assert found == [bench.SENTENCES]


def test_stand_ins_register_and_restore(fake_root):
    importlib.import_module('mmrrsis')  # its mmcv shims let mmseg import
    # the real mmseg.utils must come back after the context
    real_utils = importlib.import_module('mmseg.utils')
    before = _state()
    with bench.official_stand_ins(fake_root):
        from timm.models.layers import DropPath, to_2tuple, trunc_normal_
        assert DropPath is bench.DropPath and to_2tuple(3) == (3, 3)
        assert trunc_normal_ is bench.trunc_normal_
        from mmseg.utils import get_root_logger
        assert get_root_logger().name == 'official_fianet'
        assert sys.path[0] == osp.abspath(fake_root)
        segmentation = __import__('lib.segmentation').segmentation
        assert osp.dirname(segmentation.__file__) == osp.join(
            fake_root, 'lib')
        with pytest.raises(RuntimeError, match='reads no checkpoint'):
            segmentation.MultiModalSwinTransformer().init_weights('x.pth')
        import requests  # noqa: F401 (stand-in or the real package)
    assert _state() == before
    assert sys.modules['mmseg.utils'] is real_utils
    assert not hasattr(real_utils, 'get_root_logger')
    # the imported official module stays usable outside the context
    assert segmentation.MultiModalSwinTransformer(depths=[1])(
        torch.zeros(1, 3, 8, 8), torch.ones(1, 8, 2),
        torch.ones(1, 2, 1), None, None, None, None).shape == (1, 8, 2, 2)


def test_stand_ins_restore_after_error(fake_root):
    before = _state()
    with pytest.raises(ValueError, match='inside'):
        with bench.official_stand_ins(fake_root):
            __import__('lib.segmentation')
            raise ValueError('inside')
    assert _state() == before


def test_stand_ins_put_back_shadowed_modules(fake_root, monkeypatch):
    """A module of the same name imported before (e.g. another ``lib``)
    is hidden inside and comes back on exit."""
    other = type(sys)('lib')
    monkeypatch.setitem(sys.modules, 'lib', other)
    with bench.official_stand_ins(fake_root):
        assert sys.modules.get('lib') is not other
        seg = __import__('lib.segmentation').segmentation
        assert seg.__name__ == 'lib.segmentation'
    assert sys.modules['lib'] is other
    assert 'lib.segmentation' not in sys.modules


def test_drop_path():
    x = torch.randn(64, 3, 5)
    layer = bench.DropPath(0.5)
    layer.eval()
    assert layer(x) is x
    assert bench.DropPath(0.)(x) is x
    layer.train()
    torch.manual_seed(0)
    y = layer(x)
    dropped = (y == 0).flatten(1).all(1)
    kept = torch.isclose(y, x * 2).flatten(1).all(1)
    assert torch.all(dropped | kept)  # whole samples, scaled by 1 / keep
    assert 10 < int(dropped.sum()) < 54


def test_trunc_normal_and_to_2tuple():
    t = bench.trunc_normal_(torch.empty(10000), std=0.02)
    assert t.abs().max() <= 2.0 and 0.015 < t.std() < 0.025
    assert bench.to_2tuple([4, 5]) == (4, 5) and bench.to_2tuple(7) == (7, 7)


def test_cuda_noop_restores():
    original = torch.Tensor.cuda
    x = torch.ones(2)
    with bench.cuda_noop():
        assert x.cuda() is x
    assert torch.Tensor.cuda is original


def test_random_from_pretrained_restores():

    class Base:

        @classmethod
        def from_pretrained(cls, name):
            raise RuntimeError('download')

    class Model(Base):

        def __init__(self, config):
            self.config = config

    with bench.random_from_pretrained(Model, lambda: 'cfg'):
        assert Model.from_pretrained('bert-base-uncased').config == 'cfg'
    assert 'from_pretrained' not in Model.__dict__
    with pytest.raises(RuntimeError, match='download'):
        Model.from_pretrained('bert-base-uncased')


def test_build_and_param_groups(fake_root):
    official = bench.load_official(fake_root)
    with pytest.raises(RuntimeError, match='would download'):
        official.BertModel.from_pretrained('bert-base-uncased')
    model = bench.build_official_model(official, depths=(1, 1, 3, 1),
                                       num_tmem=1, drop_path_rate=0.3)
    assert model.backbone.depths == [1, 1, 3, 1]
    assert model.backbone.drop_path_rate == 0.3
    assert isinstance(model.backbone.drop_path, bench.DropPath)
    # from_pretrained is the official one again
    with pytest.raises(RuntimeError, match='would download'):
        official.BertModel.from_pretrained('bert-base-uncased')
    groups = bench.official_param_groups(model)
    bb = dict(model.backbone.named_parameters())
    assert {id(p) for p in groups[0]['params']} == {
        id(bb['norm0.weight']), id(bb['norm0.bias'])}
    assert groups[0]['weight_decay'] == 0.0
    assert len(groups[1]['params']) == len(bb) - 2
    bert = {id(p) for p in groups[3]['params']}
    layers = model.text_encoder.encoder.layer
    assert bert == {id(p) for i in range(10) for p in layers[i].parameters()}
    assert id(layers[10].weight) not in bert
    assert id(model.text_encoder.embeddings.weight) not in bert
    crit = bench.build_official_loss(official, 'cpu')
    assert crit.ce_loss.weight.device.type == 'cpu'


def test_official_tokens():
    t = bench.official_tokens(bench.SENTENCES)
    assert all(v.shape == (4, bench.MAX_TOKENS) for v in t.values())
    assert t['ids'][:, 0].eq(101).all()  # [CLS]
    assert t['ids'][0, 11] == 102 and t['sentence_mask'][0].sum() == 12
    for key in ('object_mask', 'spatial_mask'):
        assert (t[key] <= t['sentence_mask']).all()
    # 'the red building to the right of the large pool': the class word and
    # the spatial fallback (the official grammar finds no position phrase)
    assert t['object_mask'][1].nonzero().flatten().tolist() == [3]
    assert torch.equal(t['spatial_mask'][1], t['sentence_mask'][1])
    assert t['spatial_mask'][0].nonzero().flatten().tolist() == [4, 5, 6]


def test_main_on_fake_checkout(fake_root, tmp_path):
    out = tmp_path / 'bench.json'
    before = _state()
    figures = bench.main([
        '--official-root', fake_root, '--device', 'cpu', '--img-size', '32',
        '--batch-size', '2', '--warmup', '1', '--iters', '2', '--depths', '1',
        '1', '1', '1', '--json',
        str(out)
    ])
    assert _state() == before
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(figures))
    assert saved['config'] == 'official FIANet'
    assert saved['img_size'] == [32, 32] and saved['batch_size'] == 2
    assert all(k in saved for k in KEYS)
    official = bench.load_official(fake_root)
    model = bench.build_official_model(official, (1, 1, 1, 1))
    n = sum(p.numel() for p in model.parameters())
    assert saved['params_M'] == round(n / 1e6, 2)
    # BERT embeddings and layers 10-11 are not optimised (as official)
    frozen = sum(p.numel() for p in model.text_encoder.embeddings.parameters())
    assert saved['optimised_params_M'] == round(
        (n - frozen - 2 * 72) / 1e6, 2)
    for key in ('train_step_s', 'infer_s_per_image'):
        assert saved[key] > 0
    assert saved['train_peak_mem_MiB'] >= saved['infer_peak_mem_MiB'] > 0


def test_not_a_checkout(tmp_path):
    with pytest.raises(SystemExit, match='not a checkout'):
        bench.main(['--official-root', str(tmp_path)])


@pytest.mark.skipif(
    not os.environ.get('MMRRSIS_OFFICIAL_FIANET'),
    reason='MMRRSIS_OFFICIAL_FIANET (a checkout of GitHub '
    'Shaosifan/FIANet) is not set')
def test_official_checkout_tiny(tmp_path):
    root = os.environ['MMRRSIS_OFFICIAL_FIANET']
    out = tmp_path / 'official.json'
    cmd = [
        sys.executable, SCRIPT, '--official-root', root, '--device', 'cpu',
        '--depths', '2', '2', '2', '2', '--img-size', '64', '--warmup', '0',
        '--iters', '1', '--json',
        str(out)
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=tool_env(),
                          capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, tail(log)
    saved = json.loads(out.read_text())
    assert all(k in saved for k in KEYS)
    # Swin-B widths with depths 2-2-2-2, 1 TMEM block, BERT-base, the four
    # unused go_embedding layers: the official model's parameter count
    assert saved['params_M'] == 201.35
    assert saved['train_step_s'] > 0 and saved['infer_s_per_image'] > 0
