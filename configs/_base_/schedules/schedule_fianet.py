# FIANet's optimiser (official train.py): the LAVT/RMSIN one
# (schedule_40e.py). The official no-decay rule looks at names inside its
# backbone, which holds TMEM; TMEM's batch norm is called `tmem.bn` there
# (decayed) and `neck.norm` here, so it is given its decay back. Leaf
# configs set the epochs and the learning rate.
_base_ = ['./schedule_40e.py']
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'neck.norm.': dict(decay_mult=1.0)}))
