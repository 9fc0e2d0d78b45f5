"""Install mmrrsis. ``pip install -e .`` after the requirements (README)."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(fname):
    here = osp.dirname(osp.abspath(__file__))
    with open(osp.join(here, 'requirements', fname)) as f:
        return [ln.split('#')[0].strip() for ln in f
                if ln.split('#')[0].strip()]


def get_version():
    ns = {}
    with open(osp.join('mmrrsis', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='mmrrsis',
    version=get_version(),
    description='Referring remote sensing image segmentation for '
    'MMSegmentation: LAVT, CroBIM, FIANet, BTDNet',
    long_description=open('README.md').read() if osp.exists('README.md')
    else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    python_requires='>=3.8',
    # mmcv is deliberately not pinned here: users pick mmcv-lite (quick
    # install, requirements/mminstall.txt) or a compiled mmcv 2.1.x.
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(
        demo=read_requirements('demo.txt'),
        tests=read_requirements('tests.txt'),
        web=read_requirements('web.txt'),
        lite=read_requirements('mminstall.txt')),
    license='Apache License 2.0',
    zip_safe=False)
