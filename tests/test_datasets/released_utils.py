"""Helpers of the released-format dataset tests: fixture paths, the fixture
spec (``tests/data/make_fixtures.py``) and running a config's pipeline."""
import importlib.util
import os.path as osp
import shutil

from mmengine.config import Config
from mmengine.dataset import Compose

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO = osp.dirname(TESTS)
DATA = osp.join(TESTS, 'data')


def fixture_spec():
    """The ``make_fixtures`` module (shapes and lines of every fixture)."""
    spec = importlib.util.spec_from_file_location(
        'make_fixtures', osp.join(DATA, 'make_fixtures.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_copy(name: str, tmp_path) -> str:
    """A writable copy of ``tests/data/<name>`` (for the bad-input tests)."""
    dst = osp.join(str(tmp_path), name)
    shutil.copytree(osp.join(DATA, name), dst)
    return dst


def base_config(name: str) -> Config:
    return Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', f'{name}.py'))


def run_pipeline(pipeline, info: dict) -> dict:
    return Compose(pipeline)(dict(info))
