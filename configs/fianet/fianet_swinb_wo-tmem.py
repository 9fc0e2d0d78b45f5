# Ablation: FIANet on RefSegRS without TMEM (the stage outputs go straight to
# the decoder).
_base_ = ['../fianet_swinb.py']
model = dict(neck=None)
