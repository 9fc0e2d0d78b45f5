# Ablation: FIANet on RefSegRS without FIAM: LAVT's PWAM + language gate in
# every stage and the plain sentence encoder (no object / spatial texts);
# TMEM kept.
_base_ = ['../fianet_swinb.py']
model = dict(
    text_encoder=dict(_delete_=True, type='HFTextEncoder',
                      model_name_or_path='bert-base-uncased', max_length=20,
                      trainable_layers=10, keep_sep_on_truncation=False),
    fusion=dict(_delete_=True, type='PWAM', in_channels=[128, 256, 512, 1024],
                num_heads=1, dropout=0.0))
