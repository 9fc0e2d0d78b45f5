# Ablation: FIANet on RefSegRS without the spatial-position branch (FIAM's
# object branch enters ungated by the spatial map).
_base_ = ['../fianet_swinb.py']
model = dict(fusion=dict(with_spatial=False))
