# Ablation: without LGFA. CAPM still modulates the words, but MID decodes
# the backbone maps directly (language enters the vision side only in MID).
_base_ = ['../crobim_swinb.py']
model = dict(
    neck=dict(visual_neck=None),
    decode_head=dict(in_channels=[128, 256, 512, 1024]))
