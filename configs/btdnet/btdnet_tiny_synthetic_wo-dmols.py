# Ablation: without D-MOLS (no entity erasure / reconstruction loss).
_base_ = ['./btdnet_tiny_synthetic.py']
model = dict(auxiliary_head=None)
