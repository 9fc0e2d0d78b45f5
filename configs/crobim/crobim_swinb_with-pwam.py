# Variant: also fuse language inside the backbone, with LAVT's PWAM after
# every Swin stage (the RMSIN/LAVT code CroBIM credits does this); CAPM,
# LGFA and MID unchanged.
_base_ = ['../crobim_swinb.py']
model = dict(
    fusion=dict(_delete_=True, type='PWAM',
                in_channels=[128, 256, 512, 1024], num_heads=1,
                dropout=0.0),
    fusion_mode='early')
