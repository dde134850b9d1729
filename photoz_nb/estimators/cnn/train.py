"""Training of Net_P: checkpoints, resumption, caching (inference: :mod:`.predict`).

Batches come from :mod:`.inputs` (streamed from the memory-mapped images, or held in
accelerator memory): stretched pixels (:func:`stretch`), a random rotation by a multiple of 90
degrees and a random flip, the E(B-V) input and the redshift bin as label.  Every random draw
is a pure function of ``(seed, epoch, batch)``, so an interrupted run resumed from its last
checkpoint sees exactly the batches the uninterrupted run would have seen.

A training run lives in one directory::

    ckpt-0003.keras, best-0002.weights.h5, checkpoint.json   # while training (resumable)
    ckpt-0002.keras, checkpoint.prev.json                    # the previous epoch's, kept
    model.keras, history.json, run.json                      # when done

Every file is written to a temporary name, fsynced and renamed (:mod:`photoz_nb.safeio`);
``checkpoint.json`` is written last, so it always names complete files, and the previous
epoch's checkpoint stays until the new one is durable.  A torn or garbled checkpoint (JSON or
model file) is reported by name, set aside as ``*.corrupt``, and training resumes from the
previous one.  A folder lock keeps a second training run out of the same directory, and an
existing ``model.keras`` is replaced only by a complete new one.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import warnings
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from ... import catalog, config, safeio
from ..base import NotTrained, rows_digest
from .inputs import (INPUT_WORKERS, READS, GalaxyBatches, check_index, dihedral,  # noqa: F401 (dihedral, stretch,
                     redshift_bins, stretch, training_batches)                    # GalaxyBatches: re-exported)
from .predict import Predictions, load_predictions, predict, save_predictions  # noqa: F401 (photoz_nb.train's names)
from .model import EBV_SCALE, build_net_p, weight_shapes

#: Version tag of everything between pixels and loss that is not in the profile.
PIPELINE = "stretch=sign*(sqrt(|x|+1)-1); aug=dihedral8; loss=sparse_ce(bin); sched=lr/5@1/3,2/3"
#: The paper's schedule: lr / 5 at 60k and 120k iterations of (we assume) 180k in all.
PAPER_DROPS = (60_000, 120_000)
PAPER_ITERATIONS = 180_000


# --------------------------------------------------------------------------- validation

def _check_labels(dataset, index, name: str) -> None:
    z = np.asarray(dataset.catalog["z_spec"], dtype=float)[index]
    try:
        redshift_bins(z)
    except ValueError as err:
        bad = index[~((z > config.Z_MIN) & (z <= config.Z_MAX))]
        raise ValueError(f"{Path(dataset.path) / catalog.CATALOG}: {err} in the {name} split "
                         f"(catalogue rows {bad[:10].tolist()})") from None


def _check_images(dataset) -> None:
    """Every pixel finite, before the first step (once per opened data set: validation may have done it)."""
    catalog.check_finite_pixels(dataset.images, Path(str(dataset.path)) / catalog.IMAGES)


# --------------------------------------------------------------------------- training
@dataclasses.dataclass
class TrainResult:
    """A trained model, its per-epoch history (``loss``, ``val_loss``) and its file."""

    model: keras.Model
    history: dict
    path: Path


def default_patience(epochs: int) -> int:
    """Early-stopping patience: a fifth of the planned epochs, at least 3."""
    return max(3, epochs // 5)


def learning_rate_schedule(learning_rate: float, total_steps: int):
    """The paper's lr / 5 drops at 60k and 120k of ~180k iterations, scaled to ``total_steps``."""
    boundaries = [max(1, round(total_steps * b / PAPER_ITERATIONS)) for b in PAPER_DROPS]
    boundaries[1] = max(boundaries[1], boundaries[0] + 1)
    values = [learning_rate, learning_rate / 5, learning_rate / 25]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def run_settings(profile, seed, use_ebv, patience, mixed_precision: bool = False) -> dict:
    """What determines a training run apart from its data and rows: network, schedule, seed."""
    return {
        "architecture": {"net": "Net_P", "width": profile.model_width, "n_bins": config.N_BINS,
                         "use_ebv": bool(use_ebv), "ebv_scale": EBV_SCALE if use_ebv else None},
        "training": {"epochs": profile.epochs, "batch_size": profile.batch_size,
                     "learning_rate": profile.learning_rate, "patience": patience, "pipeline": PIPELINE,
                     "precision": "mixed_bfloat16" if mixed_precision else "float32"},
        "seed": seed,
    }


def run_identity(dataset, profile, seed, use_ebv, train_index, val_index, patience,
                 mixed_precision: bool = False) -> dict:
    """Everything that determines a training run; a checkpoint or cache is reused only if equal."""
    return {
        **run_settings(profile, seed, use_ebv, patience, mixed_precision),
        "data": catalog.input_checksums(dataset, READS),
        "train_index": rows_digest(train_index),
        "val_index": rows_digest(val_index),
    }


CHECKPOINT, PREVIOUS = "checkpoint.json", "checkpoint.prev.json"
#: What a checkpoint state must hold to be resumed from.
STATE_FIELDS = {"identity", "history", "epochs_done", "best_val_loss", "best_epoch", "wait", "patience",
                "stopped_early", "model_file", "best_file", "finished"}
#: Files of a run in progress (removed when a different run starts in the folder; nothing else is).
RUN_FILES = ("ckpt-*.keras", "best-*.weights.h5", "tmp-*", "*.tmp", CHECKPOINT, PREVIOUS)


def _write_json(path: Path, obj) -> None:
    safeio.write_atomic(path, json.dumps(obj, indent=2))


def _read_json(path: Path):
    """The JSON in ``path``; None when missing or not valid JSON (a run is then redone, not trusted)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # torn or garbled: treated as absent (run.json, history.json)
        return None


def _read_state(path: Path) -> dict | None:
    """A checkpoint state; None when missing.  A torn or garbled one is set aside (``.corrupt``), None."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        state = json.loads(text)
        if not isinstance(state, dict) or not STATE_FIELDS <= set(state):
            raise ValueError(f"not a checkpoint state: missing {sorted(STATE_FIELDS - set(state or {}))}"
                             if isinstance(state, dict) else f"holds a {type(state).__name__}, not an object")
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError included
        safeio.set_aside(path, f"torn or garbled checkpoint ({len(text)} bytes: {err})")
        return None
    return state


def _save_keras(model, path: Path, weights_only: bool = False) -> None:
    """Save to a temporary name, fsync, then rename (no half-written or unsynced checkpoint)."""
    tmp = path.with_name("tmp-" + path.name)
    with warnings.catch_warnings():  # Keras' own numpy-2 __array__ notice, once per variable
        warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
        model.save_weights(tmp) if weights_only else model.save(tmp)
    safeio.replace_file(tmp, path)


def _describe_difference(old: dict, new: dict) -> str:
    diffs = []
    for key in new:
        if isinstance(new[key], dict) and isinstance(old.get(key), dict):
            diffs += [f"{key}.{k}: {old[key].get(k)!r} -> {v!r}" for k, v in new[key].items() if old[key].get(k) != v]
        elif old.get(key) != new[key]:
            diffs.append(f"{key}: {str(old.get(key))[:16]!r} -> {str(new[key])[:16]!r}")
    return "; ".join(diffs)


class _Checkpointer(keras.callbacks.Callback):
    """Early stopping on val_loss plus a resumable checkpoint at the end of every epoch.

    Each epoch's files are durable before ``checkpoint.json`` names them; the state it replaces
    goes to ``checkpoint.prev.json`` first, and only files named by neither are removed.
    """

    def __init__(self, out_dir: Path, state: dict, sequences, resumed: bool):
        super().__init__()
        self.out_dir, self.state, self.sequences = out_dir, state, sequences
        self.committed = json.loads(json.dumps(state)) if resumed else None  # the state on disk

    def on_epoch_begin(self, epoch, logs=None):
        for seq in self.sequences:
            seq.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss, val = float(logs["loss"]), float(logs["val_loss"])
        if not (np.isfinite(loss) and np.isfinite(val)):
            raise FloatingPointError(f"epoch {epoch + 1}: loss {loss}, val_loss {val} is not finite; "
                                     "lower the learning rate or check the inputs")
        st = self.state
        st["history"]["loss"].append(loss)
        st["history"]["val_loss"].append(val)
        if val < st["best_val_loss"]:
            st.update(best_val_loss=val, best_epoch=epoch + 1, wait=0, best_file=f"best-{epoch + 1:04d}.weights.h5")
            _save_keras(self.model, self.out_dir / st["best_file"], weights_only=True)
        else:
            st["wait"] += 1
        st["model_file"] = f"ckpt-{epoch + 1:04d}.keras"
        _save_keras(self.model, self.out_dir / st["model_file"])
        st["epochs_done"] = epoch + 1
        st["stopped_early"] = st["wait"] >= st["patience"]
        st["rng"] = {"seed": st["identity"]["seed"], "next_epoch": epoch + 1,
                     "scheme": "numpy default_rng([seed, epoch]) shuffles, default_rng([seed, epoch, batch]) augments"}
        if self.committed is not None:
            _write_json(self.out_dir / PREVIOUS, self.committed)
        _write_json(self.out_dir / CHECKPOINT, st)  # commit point
        _remove_unreferenced(self.out_dir, [st, self.committed])
        self.committed = json.loads(json.dumps(st))
        if st["stopped_early"]:
            self.model.stop_training = True


class _Progress(keras.callbacks.Callback):
    """One tqdm bar over all training batches, with the epoch's losses."""

    async_safe = True  # Keras may call on_train_batch_end from a thread: the GPU need not wait for the bar

    def __init__(self, total_steps: int, done_steps: int):
        super().__init__()
        self.bar = tqdm(total=total_steps, initial=done_steps, desc="training", unit="batch")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(epoch=epoch + 1, loss=f"{logs.get('loss', np.nan):.3f}",
                             val_loss=f"{logs.get('val_loss', np.nan):.3f}")

    def on_train_end(self, logs=None):
        self.bar.close()


def _compile(model, learning_rate: float, total_steps: int) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(learning_rate, total_steps)),
                  loss="sparse_categorical_crossentropy")
    # Create Adam's moments now, eagerly, as keras.models.load_model does for a resumed run.  Under
    # TensorFlow, Keras would otherwise create them inside the first trace of the train step, where
    # each of Net_P's ~190 slot variables costs tens of ms (about 40% of a small run's CPU time).
    # The moments start at zero either way: the weights are bit-identical (tests/test_train.py).
    model.optimizer.build(model.trainable_variables)


def _remove_unreferenced(out_dir: Path, states) -> None:
    """Remove epoch checkpoints that none of ``states`` (current and previous) names."""
    keep = {s.get(k) for s in states if s for k in ("model_file", "best_file")}
    for pattern in ("ckpt-*.keras", "best-*.weights.h5"):
        for path in out_dir.glob(pattern):
            if path.name not in keep:
                path.unlink(missing_ok=True)


def _resume_or_start(out_dir: Path, identity: dict, overwrite: bool) -> list[dict]:
    """The checkpoint states to resume from, newest first ([] to start afresh); raise on a foreign run.

    Garbled states are set aside by :func:`_read_state`.  With ``overwrite``, the files of a
    different run (:data:`RUN_FILES`) are removed; a finished ``model.keras`` and its
    ``run.json`` stay until the new run replaces them.
    """
    states = [s for s in (_read_state(out_dir / CHECKPOINT), _read_state(out_dir / PREVIOUS)) if s is not None]
    if not states or states[0].get("identity") == identity:
        return [s for s in states if s.get("identity") == identity]
    state = states[0]
    what = ("a different architecture" if state["identity"].get("architecture") != identity["architecture"]
            else "a different run")
    if not overwrite:
        raise ValueError(f"{out_dir / CHECKPOINT}: checkpoint of {what} "
                         f"({_describe_difference(state['identity'], identity)}); "
                         "delete the directory or pass overwrite=True to start afresh")
    for pattern in RUN_FILES:
        for path in out_dir.glob(pattern):
            path.unlink()
    return []


def _load_or_set_aside(path: Path, what: str) -> keras.Model | None:
    """The Keras model in ``path``; None if it cannot be read, the damaged file set aside (never deleted)."""
    try:
        return keras.models.load_model(path)
    except Exception as err:  # a damaged .keras zip raises ValueError, OSError, BadZipFile, KeyError...
        safeio.set_aside(path, f"unreadable {what} ({type(err).__name__}: {str(err)[:120]})")
        return None


def _load_checkpoint(out_dir: Path, state: dict, fresh: keras.Model) -> keras.Model | None:
    """The model of a checkpoint state; None (saying why, damaged file set aside) if it cannot be used."""
    for key in ("model_file", "best_file"):
        path = out_dir / str(state[key])
        if state[key] is None or not path.is_file():
            safeio.announce(f"{out_dir / CHECKPOINT}: names {key} {state[key]!r}, which is missing")
            return None
        if path.stat().st_size == 0:
            safeio.set_aside(path, "empty (zero-byte) checkpoint")
            return None
    path = out_dir / state["model_file"]
    model = _load_or_set_aside(path, "checkpoint")
    if model is None:
        return None
    if weight_shapes(model) != weight_shapes(fresh):
        raise ValueError(f"{path}: checkpoint of a different architecture than Net_P "
                         f"{state['identity']['architecture']} (weight shapes differ)")
    return model


def train(dataset, profile, out_dir, seed: int | None = None, use_ebv: bool = True, train_index=None,
          progress: bool = True, val_index=None, patience: int | None = None, overwrite: bool = False,
          callbacks=(), mixed_precision: bool | None = None, data_parallel: bool | None = None,
          input_workers: int | None = None, input_source: str = "auto") -> TrainResult:
    """Train Net_P on ``dataset`` with the sizes of ``profile``; resume if interrupted.

    Parameters
    ----------
    dataset : catalog.Dataset
    profile : config.Profile or str
        Width, epochs, batch size and learning rate come from here.
    out_dir : path
        Checkpoints, the final ``model.keras``, ``history.json`` and ``run.json``.
    seed : int, optional
        Seed of weights, shuffling and augmentation (default ``profile.seed``).
    use_ebv : bool
        Feed E(B-V) to the dense layers.
    train_index, val_index : array of int, optional
        Catalogue rows to train on / to early-stop on (default: the train / val splits).
    progress : bool
        Show a progress bar.
    patience : int, optional
        Epochs without a better val_loss before stopping (default :func:`default_patience`).
    overwrite : bool
        Discard a checkpoint in ``out_dir`` left by a different run instead of raising.
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks (e.g. for monitoring).
    mixed_precision : bool, optional
        Compute in bfloat16 (weights stay float32); default: on when the backend sees a GPU.
    data_parallel : bool, optional
        Split every batch over all devices with ``keras.distribution.DataParallel`` (JAX backend
        only); default: on when JAX sees more than one device.
    input_workers : int, optional
        Threads preparing streamed batches (default :data:`INPUT_WORKERS`); results do not depend on it.
    input_source : {"auto", "stream", "device"}
        Stream batches from disk, or hold the images in accelerator memory ("auto": the device
        when a GPU holds them; see :func:`.inputs.training_batches`).  Same batches either way.

    Returns
    -------
    TrainResult
        The model with the weights of its best validation epoch restored.
    """
    profile = config.get_profile(profile)
    seed = profile.seed if seed is None else int(seed)
    patience = default_patience(profile.epochs) if patience is None else int(patience)
    train_index = check_index(dataset, dataset.split("train") if train_index is None else train_index, "train")
    val_index = check_index(dataset, dataset.split("val") if val_index is None else val_index, "val")
    for index, name in ((train_index, "train"), (val_index, "val")):
        _check_labels(dataset, index, name)
    _check_images(dataset)  # before anything in out_dir is touched

    out_dir = Path(out_dir)
    mixed_precision = gpu_count() > 0 if mixed_precision is None else bool(mixed_precision)
    distribution = data_parallel_distribution(profile.batch_size, data_parallel)
    identity = run_identity(dataset, profile, seed, use_ebv, train_index, val_index, patience, mixed_precision)
    with safeio.FolderLock(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        states = _resume_or_start(out_dir, identity, overwrite)
        with distribution.scope() if distribution else contextlib.nullcontext():
            return _fit(dataset, profile, out_dir, states, identity, train_index, val_index, progress, callbacks,
                        INPUT_WORKERS if input_workers is None else int(input_workers), input_source)


def _fresh_state(identity: dict) -> dict:
    return {"identity": identity, "history": {"loss": [], "val_loss": []}, "epochs_done": 0,
            "best_val_loss": float("inf"), "best_epoch": 0, "wait": 0, "patience": identity["training"]["patience"],
            "stopped_early": False, "model_file": None, "best_file": None, "finished": False}


def _fit(dataset, profile, out_dir, states, identity, train_index, val_index, progress, callbacks,
         input_workers, input_source) -> TrainResult:
    """Build (or resume) the model of ``identity`` and run the remaining epochs; see :func:`train`."""
    seed, use_ebv = identity["seed"], identity["architecture"]["use_ebv"]
    mixed_precision = identity["training"]["precision"] != "float32"
    keras.utils.set_random_seed(seed)
    train_seq, val_seq = (training_batches(dataset, index, profile.batch_size, seed, is_train, use_ebv, input_workers,
                                           input_source, "bfloat16" if mixed_precision else "float32", progress)
                          for index, is_train in ((train_index, True), (val_index, False)))
    total_steps = len(train_seq) * profile.epochs
    fresh = build_net_p(profile.model_width, use_ebv=use_ebv, seed=seed, mixed_precision=mixed_precision)
    state, model = None, None
    for candidate in states:  # newest first: fall back to the previous epoch's if this one is damaged
        if candidate["finished"] and (out_dir / "model.keras").exists():
            return TrainResult(keras.models.load_model(out_dir / "model.keras"), candidate["history"],
                               out_dir / "model.keras")
        model = _load_checkpoint(out_dir, candidate, fresh)
        if model is not None:
            state = candidate
            source = CHECKPOINT if candidate is states[0] else PREVIOUS
            safeio.announce(f"{out_dir}: resuming after epoch {state['epochs_done']} (from {source})")
            break
    if state is None:
        if states:
            safeio.announce(f"{out_dir}: no usable checkpoint left; training from the start")
        state, model = _fresh_state(identity), fresh
        _compile(model, profile.learning_rate, total_steps)

    if state["epochs_done"] < profile.epochs and not state["stopped_early"]:
        cbs = [_Checkpointer(out_dir, state, [train_seq, val_seq], resumed=state["epochs_done"] > 0)]
        if progress:
            cbs.append(_Progress(total_steps, state["epochs_done"] * len(train_seq)))
        model.fit(train_seq, validation_data=val_seq, epochs=profile.epochs, initial_epoch=state["epochs_done"],
                  shuffle=False, verbose=0, callbacks=cbs + list(callbacks))
    return _finish(model, out_dir, state)


def gpu_count() -> int:
    """GPUs visible to the Keras backend."""
    if keras.backend.backend() == "torch":
        import torch  # only under the torch backend (an optional install)
        return torch.cuda.device_count()
    return sum(device.startswith("gpu") for device in keras.distribution.list_devices())


def data_parallel_distribution(batch_size: int, data_parallel: bool | None = None):
    """A ``keras.distribution.DataParallel`` over every device, or None for single-device training.

    Only the JAX backend implements keras.distribution; ``data_parallel=None`` turns it on when
    JAX sees more than one device.  Each device gets ``batch_size / n_devices`` galaxies per step.
    """
    jax = keras.backend.backend() == "jax"
    devices = keras.distribution.list_devices() if jax else []
    if data_parallel is None:
        data_parallel = len(devices) > 1
    if not data_parallel:
        return None
    if not jax:
        raise ValueError(f"data_parallel needs the JAX backend (keras.distribution); the backend is "
                         f"{keras.backend.backend()!r}: set KERAS_BACKEND=jax")
    if batch_size % len(devices):
        raise ValueError(f"batch size {batch_size} does not split evenly over {len(devices)} devices {devices}")
    return keras.distribution.DataParallel(devices=devices)


def _finish(model, out_dir: Path, state: dict) -> TrainResult:
    """Restore the best weights, write model.keras, history.json, run.json; drop checkpoints."""
    model.load_weights(out_dir / state["best_file"])
    _save_keras(model, out_dir / "model.keras")
    _write_json(out_dir / "history.json", state["history"])
    _write_json(out_dir / "run.json", {
        "identity": state["identity"], "epochs_run": state["epochs_done"], "best_epoch": state["best_epoch"],
        "best_val_loss": state["best_val_loss"], "stopped_early": state["stopped_early"],
        "backend": keras.backend.backend(), "keras": keras.__version__})
    state["finished"] = True
    _write_json(out_dir / CHECKPOINT, state)
    (out_dir / PREVIOUS).unlink(missing_ok=True)
    _remove_unreferenced(out_dir, [{"best_file": state["best_file"]}])  # epoch checkpoints are no longer needed
    return TrainResult(model, state["history"], out_dir / "model.keras")


def ensure_trained(profile, dataset, name: str = "cnn", use_ebv: bool = True, train_index=None,
                   progress: bool = True, seed: int | None = None, val_index=None, fit: bool = True) -> TrainResult:
    """The model in ``profile.models_dir / name`` if it was trained on these inputs, else train it.

    The recorded inputs (``run.json``) are the data set's sha256s, the profile's training
    numbers, the seed (default ``profile.seed``), ``use_ebv`` and hashes of the train/val rows;
    any change retrains.  An interrupted run with the same inputs is resumed.  With ``fit=False``
    a missing or stale model raises :class:`NotTrained` naming the step that trains it.
    """
    profile = config.get_profile(profile)
    seed = profile.seed if seed is None else int(seed)
    out_dir = profile.models_dir / name
    train_index = check_index(dataset, dataset.split("train") if train_index is None else train_index, "train")
    val_index = check_index(dataset, dataset.split("val") if val_index is None else val_index, "val")
    mixed_precision = gpu_count() > 0
    identity = run_identity(dataset, profile, seed, use_ebv, train_index, val_index, default_patience(profile.epochs),
                            mixed_precision)
    run, path = _read_json(out_dir / "run.json"), out_dir / "model.keras"
    current = isinstance(run, dict) and run.get("identity") == identity
    damaged = False
    if current and path.exists():
        model = _load_or_set_aside(path, "model")
        if model is not None:
            return TrainResult(model, _read_json(out_dir / "history.json"), path)
        damaged = True
    has_model = path.exists()
    if damaged:
        why = "its model.keras was unreadable (set aside)"
    elif not has_model:
        why = "no model there yet"
    elif not isinstance(run, dict) or not isinstance(run.get("identity"), dict):
        why = "run.json is missing or unreadable"
    else:
        why = f"trained on other inputs ({_describe_difference(run['identity'], identity)})"
    if not fit:
        raise NotTrained(f"{out_dir}: {why}; train it first: photoz-nb train --profile {profile.name} (or notebook 02)")
    safeio.announce(f"{'training' if not has_model else 'retraining'} {out_dir}: {why}"
                    f"{'; the current model.keras stays until the new one is complete' if has_model else ''}")
    return train(dataset, profile, out_dir, seed=seed, use_ebv=use_ebv, train_index=train_index,
                 progress=progress, overwrite=True, mixed_precision=mixed_precision)


