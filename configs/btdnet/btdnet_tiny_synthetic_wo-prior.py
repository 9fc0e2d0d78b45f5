# Ablation: BSC without the spatial prior (plain pixel-word correlation both
# ways).
_base_ = ['./btdnet_tiny_synthetic.py']
model = dict(fusion=dict(with_spatial_prior=False))
