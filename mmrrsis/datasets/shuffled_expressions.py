"""A control: the same samples with their expressions shuffled."""
import copy
from typing import Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class ShuffledExpressionDataset:
    """Wrap a referring dataset and give every sample the expression of
    another sample: never its own sentence (nor an identical string), and
    not one of the same image file. Datasets that store one file per
    (image, object), like RefSegRS and the synthetic set, may thus receive
    a sentence written for another object of the same scene, which is also
    a wrong sentence for the mask.

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
        texts = [info['text'] for info in infos]

        def clash(i, j):  # sample i would get sample j's sentence
            return images[j] == images[i] or texts[j] == texts[i]

        rng = np.random.RandomState(seed)
        perm = rng.permutation(n)
        # repair clashes by swapping targets with another position
        for i in range(n):
            if n > 1 and clash(i, perm[i]):
                for j in rng.permutation(n):
                    if not clash(i, perm[j]) and not clash(j, perm[i]):
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
