import torch

from mmrrsis.models.losses import ForegroundDiceLoss


def test_hand_computed_value():
    # one sample, 4 pixels; foreground prob from 2-class logits
    p = torch.tensor([0.9, 0.8, 0.2, 0.1])
    logits = torch.stack([torch.zeros(4), torch.log(p / (1 - p))])
    logits = logits.view(1, 2, 2, 2)
    target = torch.tensor([1, 1, 0, 0]).view(1, 2, 2)
    loss = ForegroundDiceLoss(eps=0.0)(logits, target)
    # 2 * (0.9 + 0.8) / (2.0 + 2) = 0.85 -> loss 0.15
    torch.testing.assert_close(loss, torch.tensor(0.15))


def test_ignore_and_weight_and_sigmoid():
    logits = torch.full((1, 1, 2, 2), 10.0)  # sigmoid ~1 everywhere
    target = torch.tensor([[[1, 255], [1, 255]]])
    loss = ForegroundDiceLoss(loss_weight=2.0, eps=0.0)(logits, target)
    # ignored pixels do not count: perfect on the two valid pixels
    assert loss.item() < 1e-3
    bad = torch.tensor([[[0, 255], [0, 255]]])
    assert ForegroundDiceLoss(eps=0.0)(logits, bad).item() > 0.99


def test_per_sample_mean_not_pooled():
    # a small object missed entirely must cost as much as a large one
    logits = torch.zeros(2, 2, 4, 4)
    logits[:, 1] = -20.0  # predicts background everywhere
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[0, 0, 0] = 1  # 1 pixel
    target[1] = 1  # 16 pixels
    loss = ForegroundDiceLoss(eps=1e-6)(logits, target)
    torch.testing.assert_close(loss, torch.tensor(1.0), atol=1e-4, rtol=0)
    assert ForegroundDiceLoss().loss_name == 'loss_dice'
