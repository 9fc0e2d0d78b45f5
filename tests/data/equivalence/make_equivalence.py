"""Write the logits-equivalence fixtures ``tests/data/equivalence/*.pth``.

Run once on the code *before* a refactor that must not change outputs
(issue 13's one-way text record and shared blocks), from the repository
root::

    HF_HUB_OFFLINE=1 python tests/data/equivalence/make_equivalence.py

Each file holds, for one tiny model of
``tests/test_models/equivalence_utils.py``: the perturbed state dict (word
embedding sparse), the tensor-mode logits, the losses, per-parameter
gradient sums, the text encoder's outputs and the commit it was made from.
``tests/test_models/test_segmentors/test_equivalence.py`` compares the
current code with it.
"""
import os.path as osp
import subprocess
import sys

import torch

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models'))

import equivalence_utils as eq  # noqa: E402


def main() -> None:
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    for name in eq.model_cfgs():
        model = eq.build(name)
        eq.perturb(model)
        eq.keep_used_rows(model)
        # before the loss step, which moves the BN running statistics
        state = {k: v.clone() for k, v in model.state_dict().items()}
        out = eq.run_model(model)
        out.update(state_dict=eq.pack_state(state),
                   commit=commit, texts=list(eq.TEXTS))
        path = osp.join(HERE, f'{name}.pth')
        torch.save(out, path)
        print(f'{name}: {osp.getsize(path) / 1e6:.2f} MB, logits '
              f'{tuple(out["logits"].shape)}, losses '
              + ', '.join(f'{k}={v.item():.4f}'
                          for k, v in out['losses'].items()))


if __name__ == '__main__':
    main()
