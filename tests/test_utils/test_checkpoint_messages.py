"""What the safe checkpoint loader says about files that are not
checkpoints: what they are, and the MMRRSIS_UNSAFE_LOAD advice only for a
real torch pickle that holds types outside the allowlist."""
import argparse
import pickle

import numpy as np
import pytest
import torch
from mmengine.runner import CheckpointLoader
from PIL import Image

import mmrrsis  # noqa: F401  (routes MMEngine's loader through ours)
from mmrrsis.utils.compat import CheckpointFileError, checkpoint_file_kind


def _load(path):
    return CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


@pytest.fixture(autouse=True)
def _safe(monkeypatch):
    monkeypatch.delenv('MMRRSIS_UNSAFE_LOAD', raising=False)


def _png(path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)


def _jpeg(path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, 'JPEG')


def _tiff(path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path, 'TIFF')


def _text(path):
    path.write_text("_base_ = ['./lavt_swinb.py']\n")


def _empty(path):
    path.write_bytes(b'')


def _plain_pickle(path):
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': {'w': [1.0]}}, f, protocol=4)


def _cut_off(path):
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize('make,name,says', [
    (_png, 'scene.png', 'is a PNG image, not a checkpoint'),
    (_jpeg, 'scene.pth', 'is a JPEG image, not a checkpoint'),
    (_tiff, 'scene.tif', 'is a TIFF image, not a checkpoint'),
    (_text, 'config.py', "is a text file (it starts with \"_base_ = "),
    (_empty, 'empty.pth', 'is empty (0 bytes), not a checkpoint'),
    (_plain_pickle, 'weights.pkl', 'is a plain Python pickle, not a '
     'checkpoint written by torch.save'),
    (_cut_off, 'iter_8.pth', 'is an incomplete checkpoint: its zip archive '
     'ends after'),
])
def test_not_a_checkpoint_says_what_it_is(tmp_path, make, name, says):
    path = tmp_path / name
    make(path)
    with pytest.raises(CheckpointFileError) as info:
        _load(path)
    msg = str(info.value)
    assert msg.startswith(f'{path} {says}'), msg
    assert 'MMRRSIS_UNSAFE_LOAD' not in msg
    assert 'unpickle' not in msg.lower()


def test_real_pickle_outside_allowlist_gets_the_unsafe_advice(tmp_path):
    path = tmp_path / 'old.pth'
    torch.save({'state_dict': {'w': torch.ones(1)},
                'args': argparse.Namespace(lr=0.1)}, path)
    assert checkpoint_file_kind(str(path)) == 'torch-zip'
    with pytest.raises(RuntimeError, match='MMRRSIS_UNSAFE_LOAD') as info:
        _load(path)
    assert not isinstance(info.value, CheckpointFileError)
    assert 'argparse.Namespace' in str(info.value)


def test_checkpoints_still_load(tmp_path):
    new = tmp_path / 'new.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}}, new)
    legacy = tmp_path / 'legacy.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}}, legacy,
               _use_new_zipfile_serialization=False)
    assert checkpoint_file_kind(str(legacy)) == 'torch-legacy'
    for path in (new, legacy):
        torch.testing.assert_close(_load(path)['state_dict']['w'],
                                   torch.ones(2))
