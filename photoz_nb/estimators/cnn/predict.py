"""Inference of Net_P and the prediction files: PDFs of catalogue rows, optionally averaged over the
8 rotations/flips of each cutout (test-time augmentation), saved with their bin edges and rows."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from tqdm.auto import tqdm

from .inputs import GalaxyBatches, check_index


def predict(model: keras.Model, dataset, index=None, batch_size: int = 256, tta: bool = False,
            progress: bool = True) -> np.ndarray:
    """Redshift PDFs (float32, shape (n, n_bins), rows sum to 1) of the rows ``index`` (default all).

    ``tta=True`` averages the PDFs of the 8 rotations/flips of each image.
    """
    index = np.arange(len(dataset)) if index is None else check_index(dataset, index, "predict")
    use_ebv = "ebv" in [t.name.split(":")[0] for t in model.inputs] or len(model.inputs) > 1
    transforms = range(8) if tta else [0]
    total = np.zeros((len(index), model.output.shape[-1]), dtype=np.float64)
    bar = tqdm(total=len(transforms) * -(-len(index) // batch_size), desc="predicting", unit="batch",
               disable=not progress)
    for t in transforms:
        seq = GalaxyBatches(dataset, index, batch_size, use_ebv=use_ebv, labels=False, transform=t)
        start = 0
        for i in range(len(seq)):
            (inputs,) = seq[i]
            p = keras.ops.convert_to_numpy(model.predict_on_batch(inputs))
            total[start:start + len(p)] += p
            start += len(p)
            bar.update(1)
    bar.close()
    return (total / total.sum(axis=1, keepdims=True)).astype(np.float32)


class Predictions(NamedTuple):
    pdfs: np.ndarray
    edges: np.ndarray
    index: np.ndarray
    meta: dict


def save_predictions(path, pdfs, edges, index, meta: dict | None = None) -> Path:
    """Write PDFs, their bin edges and catalogue rows to ``path`` (.npz), atomically."""
    pdfs, edges, index = np.asarray(pdfs, np.float32), np.asarray(edges, float), np.asarray(index, np.int64)
    if pdfs.ndim != 2 or pdfs.shape[1] != len(edges) - 1 or len(index) != len(pdfs):
        raise ValueError(f"{path}: pdfs {pdfs.shape}, edges {edges.shape}, index {index.shape} do not agree "
                         "(expected (n, n_bins), (n_bins + 1,), (n,))")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, pdfs=pdfs, edges=edges, index=index, meta=np.array(json.dumps(meta or {})))
    os.replace(tmp, path)
    return path


def load_predictions(path) -> Predictions:
    """Read what :func:`save_predictions` wrote."""
    with np.load(path, allow_pickle=False) as f:
        missing = {"pdfs", "edges", "index"} - set(f.files)
        if missing:
            raise ValueError(f"{path}: not a predictions file (missing {sorted(missing)})")
        meta = json.loads(str(f["meta"])) if "meta" in f.files else {}
        return Predictions(f["pdfs"], f["edges"], f["index"], meta)
