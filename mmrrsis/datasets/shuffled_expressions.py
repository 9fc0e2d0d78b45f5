"""A control: the same samples with their expressions shuffled."""
import copy
from typing import Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class ShuffledExpressionDataset:
    """Wrap a referring dataset and give every sample the expression of
    another sample, drawn from a different image when possible.

    A model that reads the sentence scores far lower on this wrapper than
    on the original split; a model that ignores it scores about the same.
    The permutation is fixed by ``seed``.

    Args:
        dataset (dict | BaseDataset): The referring dataset.
        seed (int): Permutation seed. Defaults to 0.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], seed: int = 0):
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self.metainfo = copy.deepcopy(dataset.metainfo)
        n = len(dataset)
        infos = [dataset.get_data_info(i) for i in range(n)]
        images = [info.get('img_path') for info in infos]
        rng = np.random.RandomState(seed)
        perm = rng.permutation(n)
        # repair fixed points and same-image pairs by swapping with a
        # neighbour in the permutation (keeps it a permutation)
        for i in range(n):
            if n > 1 and images[perm[i]] == images[i]:
                for j in rng.permutation(n):
                    if images[perm[j]] != images[i] and \
                            images[perm[i]] != images[j]:
                        perm[i], perm[j] = perm[j], perm[i]
                        break
        self.texts = [infos[p]['text'] for p in perm]

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        info = self.dataset.get_data_info(idx)
        info['text'] = self.texts[idx]
        return info

    def __getitem__(self, idx: int) -> dict:
        return self.dataset.pipeline(self.get_data_info(idx))
