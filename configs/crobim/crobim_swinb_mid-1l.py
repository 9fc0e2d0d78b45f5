# Ablation: MID with 1 bidirectional layer instead of 3 (crobim_swinb.py).
_base_ = ['../crobim_swinb.py']
model = dict(decode_head=dict(num_layers=1))
