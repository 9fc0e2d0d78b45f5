# Ablation: LGFA without multi-scale attention fusion (each scale keeps its
# own language-guided map).
_base_ = ['../crobim_swinb.py']
model = dict(neck=dict(visual_neck=dict(multi_scale_fusion=False)))
