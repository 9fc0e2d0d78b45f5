"""Visualization hook writing one image per referring expression."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.runner import BaseLoop, Runner
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample


def current_train_iter(runner: Runner) -> int:
    """The training iteration, without building the train loop.

    ``Runner.iter`` reads ``runner.train_loop``, which *builds* the train
    loop and its dataset when it was never built: in ``tools/test.py`` that
    reads the training split, which a machine holding only the test split
    lacks (``FileNotFoundError ... output_phrase_train.txt``). A test or
    val-only run has no training iteration: 0.

    Args:
        runner (Runner): The runner (or a stand-in with ``iter``).

    Returns:
        int: ``runner.iter`` when the train loop exists, else 0.
    """
    if not hasattr(runner, '_train_loop'):  # a stand-in, not a Runner
        return int(getattr(runner, 'iter', 0))
    loop = runner._train_loop
    return loop.iter if isinstance(loop, BaseLoop) else 0


def read_rgb_image(img_path: str,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image as RGB uint8 with the dataset loader's band policy
    (:func:`mmrrsis.datasets.transforms.read_rs_image`).

    Args:
        img_path (str): Path or URI of the image.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: ``HxWx3`` uint8 RGB image.
    """
    from mmrrsis.datasets.transforms import read_rs_image
    img = read_rs_image(img_path, backend_args=backend_args,
                        caller='ReferringVisualizationHook')
    return np.ascontiguousarray(img[..., ::-1])


@HOOKS.register_module()
class ReferringVisualizationHook(SegVisualizationHook):
    """Draw referring segmentation results, one image per expression.

    Like :class:`mmseg.engine.hooks.SegVisualizationHook` (same arguments
    and the same switch: ``tools/test.py --show-dir DIR`` sets
    ``draw=True`` on this hook and ``visualizer.save_dir=DIR``), but

    * the name of each drawn sample is ``{img_stem}_s{sample_idx}`` (the
      dataset ``sample_idx`` metainfo, or a running counter when absent),
      so the many expressions of one image never overwrite each other;
    * images are read with :func:`read_rgb_image` (TIFF, grey, 4-band);
    * in test mode every ``test_interval``-th batch is drawn (default: all
      of them), in val mode every ``interval``-th batch;
    * it never builds the train loop (MMSeg's hook reads ``runner.iter``,
      which does): ``tools/test.py --show-dir`` works on a machine that
      holds only the test split (:func:`current_train_iter`).

    Where files go: with ``test_out_dir`` set, test images are written
    directly as ``{test_out_dir}/{img_stem}_s{sample_idx}.png`` (a relative
    ``test_out_dir`` lives under ``{work_dir}/{timestamp}``). Otherwise they
    go through the visualizer backends, i.e. with MMSeg's ``--show-dir DIR``
    and a ``LocalVisBackend``: ``DIR/vis_data/vis_image/
    {img_stem}_s{sample_idx}_{iter}.png`` (val images get a ``val_``
    prefix).

    Args:
        draw (bool): Whether to draw. Defaults to False.
        interval (int): Val-mode drawing interval in batches.
            Defaults to 50.
        show (bool): Display the images instead of storing them.
            Defaults to False.
        wait_time (float): Display time (s). Defaults to 0.
        backend_args (dict, optional): mmengine file backend arguments
            used to read the images. Defaults to None.
        test_out_dir (str, optional): Directory for test images, see above.
            Defaults to None.
        test_interval (int): Test-mode drawing interval in batches.
            Defaults to 1.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 backend_args: Optional[dict] = None,
                 test_out_dir: Optional[str] = None,
                 test_interval: int = 1) -> None:
        super().__init__(
            draw=draw,
            interval=interval,
            show=show,
            wait_time=wait_time,
            backend_args=backend_args)
        self.test_out_dir = test_out_dir
        self.test_interval = test_interval
        self._counter = 0

    def before_val(self, runner: Runner) -> None:
        """Reset the fallback sample counter."""
        self._counter = 0

    def before_test(self, runner: Runner) -> None:
        """Reset the fallback sample counter."""
        self._counter = 0

    def _resolve_test_out_dir(self, runner: Runner) -> Optional[str]:
        """Absolute directory for test images, or None (use backends)."""
        if self.test_out_dir is None:
            return None
        if osp.isabs(self.test_out_dir):
            return self.test_out_dir
        return osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)

    def sample_name(self, data_sample: SegDataSample) -> str:
        """Collision-free name ``{img_stem}_s{sample_idx}`` of a sample.

        Args:
            data_sample (SegDataSample): Sample with ``img_path`` and
                (preferably) ``sample_idx`` metainfo.

        Returns:
            str: The name, without extension.
        """
        meta = data_sample.metainfo
        stem = osp.splitext(osp.basename(str(meta.get('img_path', 'img'))))[0]
        idx = meta.get('sample_idx')
        if idx is None:
            idx = f'c{self._counter}'
        return f'{stem}_s{idx}'

    @staticmethod
    def with_text_read(runner: Runner,
                       data_sample: SegDataSample) -> SegDataSample:
        """The sample to draw: when the model's text encoder cut its
        sentence at the token limit, a new sample whose ``text_read``
        metainfo holds what the model read (the banner then shows that and
        the number of characters cut, as the demos do); otherwise the sample
        itself. The given sample (also the evaluator's) is not changed."""
        meta = data_sample.metainfo
        text = meta.get('text')
        if not isinstance(text, str) or 'text_read' in meta:
            return data_sample
        model = getattr(runner, 'model', None)
        while hasattr(model, 'module'):  # DDP and TTA wrappers
            model = model.module
        encoder = getattr(model, 'text_encoder', None)
        if not hasattr(encoder, 'read_texts'):
            return data_sample
        read = encoder.read_texts([text])[0]['text_read']
        if read == text:
            return data_sample
        return data_sample.new(metainfo={**meta, 'text_read': read})

    def _after_iter(self,
                    runner: Runner,
                    batch_idx: int,
                    data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        """Draw the samples of one val/test batch.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict): Data from the dataloader.
            outputs (Sequence[SegDataSample]): Model outputs.
            mode (str): ``'val'`` or ``'test'``. Defaults to 'val'.
        """
        if self.draw is False or mode == 'train':
            return
        interval = self.test_interval if mode == 'test' else self.interval
        if not self.every_n_inner_iters(batch_idx, interval):
            self._counter += len(outputs)
            return
        out_dir = self._resolve_test_out_dir(runner) if mode == 'test' \
            else None
        for output in outputs:
            name = self.sample_name(output)
            self._counter += 1
            img = read_rgb_image(output.img_path, self.backend_args)
            out_file = None
            if out_dir is not None:
                out_file = osp.join(out_dir, f'{name}.png')
            if mode != 'test':
                name = f'{mode}_{name}'
            self._visualizer.add_datasample(
                name,
                img,
                data_sample=self.with_text_read(runner, output),
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=current_train_iter(runner))
