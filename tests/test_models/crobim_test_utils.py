"""Random pyramids and word sequences shared by the CroBIM module tests
(CAPM, LGFA, MID)."""
import torch

CHANNELS = [8, 16, 32, 64]  # a 4-stage pyramid, finest first
SIZES = [16, 8, 4, 2]
CT = 24  # word feature width
B, L = 2, 7
WIDTH = 16  # LGFA output width


def pyramid(seed=0, batch=B, channels=CHANNELS, sizes=SIZES):
    """[B, Ci, Hi, Wi] maps, finest first."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, s, s, generator=g)
            for c, s in zip(channels, sizes)]


def words(seed=1, batch=B, length=L, width=CT):
    """Word features [B, L, Ct] and a mask with padding: sample 0 has 4
    real tokens, sample 1 has 6."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, length, width, generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, 4:] = 0
    mask[1, 6:] = 0
    return feats, mask


def scramble_padding(feats, mask, scale=100.0, extra=0):
    """New padded values (and ``extra`` more padded positions): a module
    that masks padded words must not notice."""
    changed = feats.clone()
    pad = mask == 0
    changed[pad] = torch.randn(int(pad.sum()), feats.shape[-1]) * scale
    if extra:
        Bx, _, C = feats.shape
        changed = torch.cat([changed, torch.randn(Bx, extra, C) * scale], 1)
        mask = torch.cat([mask, mask.new_zeros(Bx, extra)], 1)
    return changed, mask


def mid_cfg(**kwargs):
    cfg = dict(
        type='MIDHead',
        in_channels=list(CHANNELS),
        channels=16,
        text_channels=CT,
        num_layers=2,
        num_heads=2,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=dict(type='GN', num_groups=4),
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0)
        ])
    cfg.update(kwargs)
    return cfg


def lgfa_cfg(**kwargs):
    cfg = dict(type='LGFA', in_channels=list(CHANNELS), text_channels=CT,
               channels=WIDTH, num_heads=2,
               norm_cfg=dict(type='GN', num_groups=4))
    cfg.update(kwargs)
    return cfg
