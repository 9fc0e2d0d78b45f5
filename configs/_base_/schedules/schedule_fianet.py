# FIANet's optimiser (official train.py): the LAVT/RMSIN schedule, but BERT's
# embeddings and its last two layers are left out of the optimiser, so they
# never train (lr and decay multipliers 0 here). Leaf configs set the epochs
# and the learning rate.
_base_ = ['./schedule_40e.py']
_frozen = dict(lr_mult=0.0, decay_mult=0.0)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'text_encoder.hf.model.embeddings.': _frozen,
            'text_encoder.hf.model.encoder.layer.10.': _frozen,
            'text_encoder.hf.model.encoder.layer.11.': _frozen,
        }))
