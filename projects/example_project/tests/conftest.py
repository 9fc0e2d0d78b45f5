"""Make the project importable as ``projects.example_project`` (the way its
config's ``custom_imports`` names it) whatever directory pytest runs from."""
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
