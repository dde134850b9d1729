"""Training input: pixels, labels and the two batch sources, streamed or device-resident.

Every batch is defined by ``(seed, epoch, batch)`` alone: which rows (a per-epoch shuffle), and
which of the 8 rotations/flips each image gets.  Two sources serve those same batches:

* :class:`GalaxyBatches` streams them from the memory-mapped images on the host: read, stretch
  (:func:`stretch`) and turn (:func:`dihedral`) in numpy threads; memory does not grow with N.
* :class:`DeviceBatches` copies the stretched images of its rows to the accelerator once
  (bfloat16 when the model computes in bfloat16: the cast its first layer makes anyway) and
  gathers and turns each batch there (:func:`dihedral_ops`), so the host only sends row numbers.
  On an H200 the streaming host side kept the GPU 73 % busy; this removes it.

:func:`training_batches` picks the device source when an accelerator holds the images with room
to spare (:data:`DEVICE_MEMORY_FRACTION`), else streams.  Under float32 both give identical
tensors (tested), so results do not depend on the source.
"""
from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path

import keras
import numpy as np
import psutil
from tqdm.auto import tqdm

from ... import catalog, config, safeio
from ...pdf import bin_index

#: What the CNN reads of a data set (the run identity's and the prediction key's data checksums).
READS = (catalog.IMAGES, "ebv", "z_spec")
#: Threads preparing training batches (read, stretch, augment) while the model computes: numpy
#: releases the GIL in that work, and a GPU needs several cores' worth to stay busy.
INPUT_WORKERS = min(8, os.cpu_count() or 1)
#: The device source is used when its images take at most this fraction of the free accelerator
#: memory: the rest is for weights, optimizer state and activations (Net_P at batch 128: ~2 GB).
DEVICE_MEMORY_FRACTION = 0.6
#: Rows copied to the device per chunk (stretched on the host in float32 first: ~80 MB).
UPLOAD_ROWS = 1024
#: Each dihedral transform 0-7 as (transpose H<->W, then flip H, then flip W): the same images
#: as ``np.rot90(x, t % 4, axes=(1, 2))`` followed by a W flip for t >= 4 (tested).
DIHEDRAL_STEPS = np.array([(0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1),
                           (0, 0, 1), (1, 1, 1), (0, 1, 0), (1, 0, 0)], dtype=bool)


# --------------------------------------------------------------------------- pixels, labels
def stretch(x):
    """Sign-preserving square-root-like stretch of pixel values (nanomaggies).

    ``f(x) = sign(x) * (sqrt(|x| + 1) - 1)``: linear near 0 (slope 1/2), so sky noise
    (0.02-0.2 nanomaggies in SDSS) is not amplified the way a bare ``sqrt(|x|)`` would
    amplify it; it grows like ``sqrt(|x|)`` on bright pixels, compressing the dynamic range
    of galaxy cores; it is odd, continuous and monotonic, so negative noise stays negative.
    """
    x = np.asarray(x, dtype=np.float32)
    # x / (sqrt(|x| + 1) + 1) is the same function without the cancellation of sqrt(1 + x) - 1
    return (x / (np.sqrt(np.abs(x) + np.float32(1)) + np.float32(1))).astype(np.float32)


def redshift_bins(z, edges=None) -> np.ndarray:
    """The training label of each redshift: its bin by :func:`photoz_nb.pdf.bin_index` (int32), the
    convention of the PDFs it is scored by; a label outside ``(edges[0], edges[-1]]`` is an error."""
    edges = config.redshift_edges() if edges is None else np.asarray(edges)
    z = np.asarray(z, dtype=float)
    bad = ~((z > edges[0]) & (z <= edges[-1]))
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"z_spec: {bad.sum()} label(s) outside ({edges[0]:g}, {edges[-1]:g}], "
                         f"first {z[first]!r} at position {first}")
    return bin_index(z, edges).astype(np.int32)


def check_index(dataset, index, name: str) -> np.ndarray:
    """``index`` as int64 row numbers of ``dataset``, checked: 1-d, integer, non-empty, inside the data set."""
    index = np.asarray(index)
    if index.size == 0:
        raise ValueError(f"{dataset.path}: the {name} split is empty (no galaxy to {name} on); "
                         "check the catalogue's 'split' column or the index passed")
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"{name} index must be a 1-d array of integer row numbers, got "
                         f"dtype {index.dtype} shape {index.shape}")
    if index.min() < 0 or index.max() >= len(dataset):
        raise ValueError(f"{name} index holds rows outside 0..{len(dataset) - 1} of {dataset.path}")
    return index.astype(np.int64)


def dihedral(images: np.ndarray, transform) -> np.ndarray:
    """Apply one of the 8 rotations/flips (0-7; one per image if an array) to NHWC images."""
    transform = np.broadcast_to(np.asarray(transform), (len(images),))
    out = np.empty_like(images)
    for t in np.unique(transform):
        rows = transform == t
        turned = np.rot90(images[rows], int(t) % 4, axes=(1, 2))
        out[rows] = turned[:, :, ::-1] if t >= 4 else turned
    return out


def _check_finite(images: np.ndarray, rows: np.ndarray, where) -> None:
    catalog.raise_nonfinite_rows(where, rows[~np.isfinite(images).all(axis=(1, 2, 3))])


# --------------------------------------------------------------------------- input pipeline
class GalaxyBatches(keras.utils.PyDataset):
    """Batches ``({"image", "ebv"}, bin)`` streamed from a data set's memory-mapped images.

    Parameters
    ----------
    dataset : catalog.Dataset
    index : array of int
        Catalogue rows to serve.
    batch_size : int
    seed : int
        Seed of the shuffling and the augmentation (drawn from ``(seed, epoch, batch)``).
    train : bool
        Shuffle each epoch, augment, and drop the last incomplete batch (fixed shapes,
        no re-compilation; the shuffle changes which rows are dropped).  Otherwise every
        row once, in order.
    use_ebv, labels : bool
        Include the E(B-V) input; include the labels.
    workers : int
        Threads that prepare the next batches while the model computes.  Keras sees a plain
        sequence (its own enqueuer would hand a later epoch the batches it prefetched before a
        reset); ours keys each batch by ``(epoch, batch)``, a pure function of the seed, so
        the count never changes results.
    """

    def __init__(self, dataset, index, batch_size: int, seed: int = 0, train: bool = False,
                 use_ebv: bool = True, labels: bool = True, transform: int = 0, workers: int = 1):
        super().__init__()
        self.images = dataset.images
        self.where = Path(dataset.path) / catalog.IMAGES
        self.index = np.asarray(index, dtype=np.int64)
        self.batch_size, self.seed, self.train = int(batch_size), int(seed), train
        self.use_ebv, self.transform = use_ebv, transform
        self.ebv = np.asarray(dataset.catalog["ebv"], dtype=np.float32)[:, None]
        self.labels = redshift_bins(np.asarray(dataset.catalog["z_spec"])[self.index]) if labels else None
        self.epoch = 0  # set by the training loop at the start of each epoch
        self.prefetch = 2 * workers if workers > 1 else 0
        self._pool = concurrent.futures.ThreadPoolExecutor(workers) if workers > 1 else None
        self._ahead = {}  # (epoch, batch) -> Future of that batch

    def __len__(self) -> int:
        n = len(self.index)
        if self.train:
            return max(1, n // self.batch_size)
        return -(-n // self.batch_size)

    def _positions(self, epoch: int, i: int) -> np.ndarray:
        """Positions (into ``self.index``) of batch ``i`` of ``epoch``."""
        order = np.arange(len(self.index))
        if self.train:
            order = np.random.default_rng([self.seed, epoch]).permutation(order)
        return np.sort(order[i * self.batch_size:(i + 1) * self.batch_size])  # sorted: sequential reads

    def _transforms(self, epoch: int, i: int, n: int) -> np.ndarray:
        """The rotation/flip (0-7) of each of the ``n`` images of batch ``i`` of ``epoch``."""
        if self.train:
            return np.random.default_rng([self.seed, epoch, i]).integers(0, 8, n)
        return np.full(n, self.transform)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range (0..{len(self) - 1})")
        if self._pool is None:
            return self._batch(self.epoch, i)
        ahead = {k: f for k, f in self._ahead.items() if k[0] == self.epoch and k[1] > i}
        for j in range(i + 1, min(len(self), i + 1 + self.prefetch)):
            if (self.epoch, j) not in ahead:
                ahead[self.epoch, j] = self._pool.submit(self._batch, self.epoch, j)
        future = self._ahead.get((self.epoch, i)) or self._pool.submit(self._batch, self.epoch, i)
        self._ahead = ahead
        return future.result()

    def _batch(self, epoch: int, i: int):
        pos = self._positions(epoch, i)
        rows = self.index[pos]
        x = np.asarray(self.images[rows], dtype=np.float32)
        _check_finite(x, rows, self.where)
        x = stretch(x)
        if self.train or self.transform:
            x = dihedral(x, self._transforms(epoch, i, len(x)))
        inputs = {"image": x, "ebv": self.ebv[rows]} if self.use_ebv else {"image": x}
        return (inputs, self.labels[pos]) if self.labels is not None else (inputs,)


# --------------------------------------------------------------------------- on the device
def dihedral_ops(images, transform):
    """:func:`dihedral` in ``keras.ops``: NHWC tensors (square), one transform 0-7 per image."""
    steps = keras.ops.take(keras.ops.convert_to_tensor(DIHEDRAL_STEPS), keras.ops.convert_to_tensor(transform, "int32"),
                           axis=0)
    x = images
    for j, turned in enumerate((lambda x: keras.ops.transpose(x, (0, 2, 1, 3)),
                                lambda x: keras.ops.flip(x, 1), lambda x: keras.ops.flip(x, 2))):
        x = keras.ops.where(keras.ops.reshape(steps[:, j], (-1, 1, 1, 1)), turned(x), x)
    return x


def _gather_and_turn(images, ebv, labels, positions, transform):
    x = dihedral_ops(keras.ops.take(images, positions, axis=0), transform)
    return x, keras.ops.take(ebv, positions, axis=0), keras.ops.take(labels, positions, axis=0)


def _compiled(fn):
    """``fn`` compiled with XLA where the backend can (JAX); eager elsewhere."""
    if keras.backend.backend() == "jax":
        import jax  # only under the JAX backend (an optional install)
        return jax.jit(fn)
    return fn


def free_device_memory() -> int | None:
    """Free bytes on the first accelerator (None if the backend cannot tell), else free host RAM."""
    if not _accelerator_visible():
        return int(psutil.virtual_memory().available)  # CPU tensors live in host RAM
    if keras.backend.backend() == "torch":
        import torch  # only under the torch backend (an optional install)
        return int(torch.cuda.mem_get_info()[0])
    import jax  # only under the JAX backend (an optional install)
    stats = jax.devices()[0].memory_stats() or {}
    return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0)) if "bytes_limit" in stats else None


def device_bytes(n_rows: int, dtype: str) -> int:
    """Bytes that ``n_rows`` stretched stamps take on the device in ``dtype``."""
    itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
    return n_rows * config.STAMP ** 2 * len(config.BANDS) * itemsize


class DeviceBatches(GalaxyBatches):
    """The batches of :class:`GalaxyBatches` (same rows, order and transforms), served from device memory.

    The images of ``index`` are checked for NaN/inf (:func:`catalog.check_finite_pixels`, which skips an
    array training has already checked), stretched and copied to the device once, in
    chunks of :data:`UPLOAD_ROWS`, as ``dtype`` (``"bfloat16"`` halves the memory and equals what
    a bfloat16 model computes on); E(B-V) and labels go along.  Each batch is then a gather and
    a rotation/flip on the device: only row positions and transform codes leave the host.
    """

    def __init__(self, dataset, index, batch_size: int, seed: int = 0, train: bool = False,
                 use_ebv: bool = True, labels: bool = True, transform: int = 0, dtype: str = "float32",
                 progress: bool = False):
        super().__init__(dataset, index, batch_size, seed, train, use_ebv, labels, transform, workers=1)
        self.dtype = dtype
        # the shared check remembers a fully checked array: after train()'s check this reads nothing
        catalog.check_finite_pixels(self.images, self.where, rows=self.index)
        self.device_images = self._upload(progress)
        self.device_ebv = keras.ops.convert_to_tensor(self.ebv[self.index])
        self.device_labels = keras.ops.convert_to_tensor(self.labels if labels else np.zeros(len(self.index), np.int32))
        self._step = _compiled(_gather_and_turn)

    def _upload(self, progress: bool, workers: int = INPUT_WORKERS):
        """Read and stretch chunks in ``workers`` threads (a few chunks ahead), copy each to the device."""
        starts = range(0, len(self.index), UPLOAD_ROWS)
        chunks = []
        with concurrent.futures.ThreadPoolExecutor(workers) as pool, \
                tqdm(total=len(self.index), desc="images to device", unit="img", disable=not progress) as bar:
            for window in range(0, len(starts), 2 * workers):
                for x in pool.map(self._stretched_chunk, starts[window:window + 2 * workers]):
                    chunks.append(keras.ops.cast(keras.ops.convert_to_tensor(x), self.dtype))
                    bar.update(len(x))
        return keras.ops.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]

    def _stretched_chunk(self, start: int) -> np.ndarray:
        rows = self.index[start:start + UPLOAD_ROWS]
        order = np.argsort(rows, kind="stable")  # sequential reads of the memory map
        x = np.empty((len(rows), *self.images.shape[1:]), np.float32)
        x[order] = self.images[rows[order]]
        return stretch(x)

    def _batch(self, epoch: int, i: int):
        pos = self._positions(epoch, i)
        transform = self._transforms(epoch, i, len(pos))
        x, ebv, labels = self._step(self.device_images, self.device_ebv, self.device_labels,
                                    keras.ops.convert_to_tensor(pos.astype(np.int32)),
                                    keras.ops.convert_to_tensor(transform.astype(np.int32)))
        inputs = {"image": x, "ebv": ebv} if self.use_ebv else {"image": x}
        return (inputs, labels) if self.labels is not None else (inputs,)


def training_batches(dataset, index, batch_size: int, seed: int, train: bool, use_ebv: bool, workers: int,
                     source: str = "auto", dtype: str = "float32", progress: bool = False) -> GalaxyBatches:
    """The batch source for one split: ``source`` "stream", "device", or "auto".

    "auto" takes the device when an accelerator is visible and the images fit in
    :data:`DEVICE_MEMORY_FRACTION` of its free memory; "device" takes it wherever they fit (a CPU's
    device memory is host RAM).  When they do not fit, it says so and streams from disk.
    """
    if source not in ("auto", "device", "stream"):
        raise ValueError(f"input source must be 'auto', 'device' or 'stream', got {source!r}")
    if source == "auto":
        source = "device" if _accelerator_visible() else "stream"
    if source == "device":
        need, free = device_bytes(len(index), dtype), free_device_memory()
        if free is None or need > DEVICE_MEMORY_FRACTION * free:
            safeio.announce(f"input: {len(index):,} images need {need / 2**30:.1f} GiB in {dtype}, more than "
                  f"{DEVICE_MEMORY_FRACTION:.0%} of the {'unknown' if free is None else f'{free / 2**30:.1f} GiB'} "
                  "free device memory: streaming them from disk instead")
        else:
            return DeviceBatches(dataset, index, batch_size, seed, train, use_ebv, dtype=dtype, progress=progress)
    return GalaxyBatches(dataset, index, batch_size, seed, train, use_ebv, workers=workers)


def _accelerator_visible() -> bool:
    """A GPU that this backend can hold tensors on (TensorFlow excluded: its PyDataset adapter copies
    every batch back through the host, which would undo the point)."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch  # only under the torch backend (an optional install)
        return torch.cuda.is_available()
    return backend == "jax" and any(d.startswith("gpu") for d in keras.distribution.list_devices())
