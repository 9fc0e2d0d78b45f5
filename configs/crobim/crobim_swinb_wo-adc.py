# Ablation: LGFA without its attention deficit compensation (plain softmax
# over the words, no null key, no visual refill).
_base_ = ['../crobim_swinb.py']
model = dict(neck=dict(visual_neck=dict(deficit_compensation=False)))
