# Ablation: BSC without the pixel-to-word direction (words are not updated
# from the pixels; the head reads the text encoder's words).
_base_ = ['./btdnet_tiny_synthetic.py']
model = dict(fusion=dict(with_pixel_to_word=False))
