# Ablation of the paper model: BTDNet Swin-B without D-MOLS.
_base_ = ['../btdnet_swinb.py']
model = dict(auxiliary_head=None)
