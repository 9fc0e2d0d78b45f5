"""The large-scene benchmark's scenes: mosaics of training-size tiles with
whole-scene sentences that name exactly one object."""
import numpy as np
from tool_test_utils import load_script


def _bench():
    return load_script('tools/analysis_tools/large_scene_benchmark.py',
                       'large_scene_bench')


def test_mosaic_and_whole_scene_sentences():
    from mmrrsis.datasets.synthetic import resolve
    bench = _bench()
    rng = np.random.default_rng(3)
    img, objs = bench.make_large_scene(rng, scale=4, tile=96)
    assert img.shape == (384, 384, 3) and img.dtype == np.uint8
    assert 4 <= len(objs) <= 8  # a few object tiles, 1-2 objects each
    for o in objs:
        assert o.mask.shape == (384, 384) and o.mask.sum() == o.area
        ys, xs = np.nonzero(o.mask)
        assert abs(xs.mean() - o.cx) < 1 and abs(ys.mean() - o.cy) < 1
        # small targets: the size of a training-tile object
        assert o.area < 96 * 96 / 4
    sents = bench.scene_sentences(rng, objs, 384)
    assert 1 <= len(sents) <= 2
    from mmrrsis.datasets.synthetic import candidate_descs
    for kind, text, idx in sents:
        assert kind in bench.KINDS and text
        descs = candidate_descs(objs[idx], objs, 384, 0.06 * 384)[kind]
        assert descs and all(
            resolve(d, objs, 384, -0.06 * 384) == [objs[idx]]
            for d in descs)
