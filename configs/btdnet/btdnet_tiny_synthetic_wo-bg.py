# Ablation: T-BTD without the background stream (target stream only).
_base_ = ['./btdnet_tiny_synthetic.py']
model = dict(decode_head=dict(with_bg_stream=False))
