"""`BackupAndRestore`: Keras' preemption callback, fixed to survive repeated interruptions,
to resume exactly, and to touch only the files it wrote."""

import json
import os
import shlex
import shutil
import warnings

import keras

from bertcls.training.distribute import process_shard

WEIGHTS = "latest.weights.h5"
METADATA = "training_metadata.json"
_SAVING_WEIGHTS = "saving.weights.h5"  # Keras insists on the .weights.h5 suffix
_SAVING_METADATA = METADATA + ".saving"
# Every name this callback (or Keras' own BackupAndRestore) writes in its directory.
BACKUP_FILES = (WEIGHTS, METADATA, WEIGHTS + ".bkp", METADATA + ".bkp", _SAVING_WEIGHTS,
                _SAVING_METADATA)


class BackupError(RuntimeError):
    """A backup directory that cannot be used: not a backup, unreadable, or from another run."""


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that resumes exactly and deletes only its own files.

    A drop-in replacement (same arguments) fixing what Keras 3.15 does:

    - After a resume, Keras' backups taken within an epoch (`save_freq=<int>`) record epoch
      0 until that epoch ends, so a second interruption restarts training from epoch 0. Here
      every backup records the epoch it was taken in.
    - Keras restarts a resumed epoch from its first batch, training again on the batches
      before the backup. Here the batches the backup has already trained on are read and
      skipped (no optimizer step), so a killed run ends with the same number of optimizer
      steps, in the same order of batches, as an uninterrupted one; the steps after the last
      backup are recomputed from it. (The batches are the same only if the input order is:
      `shuffle=False`, or a `tf.data` pipeline whose order does not depend on the process.)
    - Keras deletes `backup_dir` with everything in it when training ends. Here a directory
      holding anything but backup files is refused up front, and only the backup files are
      deleted (then the directory, if empty).
    - A backup that cannot be read (truncated weights, broken metadata) is an error naming
      the directory and the command that starts afresh, and so is a backup from an epoch
      beyond this run's `epochs`, instead of a silent no-op. A backup is written to
      temporary files and renamed into place, so a kill while saving leaves the previous one.
    - With several JAX processes each one writes `backup_dir/process_<index>`, so processes
      sharing a file system do not overwrite one another's files.

    Args:
        backup_dir: directory for the backup, used by this callback only (new or empty, or
            holding a previous backup of the same run).
        save_freq: `"epoch"` or a number of batches between backups.
        double_checkpoint: also keep the previous backup (`*.bkp`), used when the latest
            cannot be read.
        delete_checkpoint: delete the backup files when training completes.

    Raises:
        BackupError (from `fit`): see above; the message says how to proceed.

    Example:

    >>> import tempfile
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> backup = BackupAndRestore(tempfile.mkdtemp(), save_freq=2)
    >>> _ = model.fit(np.zeros((8, 2)), np.zeros(8), batch_size=2, callbacks=[backup],
    ...               verbose=0)
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        num_processes, index = process_shard()
        if backup_dir and num_processes > 1:
            backup_dir = os.path.join(os.fspath(backup_dir), f"process_{index}")
        if backup_dir:
            backup_dir = os.fspath(backup_dir)
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint)
        self._skip = 0  # batches of the resumed epoch the backup has already trained on
        self._skipped_last = False
        self._real_train_function = None

    # === Restoring ===

    def on_train_begin(self, logs=None):
        self._check_directory()
        self._skip = 0
        self._skipped_last = False
        # A fit that raised while skipping left the wrapper on the model: unwrap it.
        real = getattr(self.model.train_function, "_bertcls_real", None)
        if real is not None:
            self.model.train_function = real
        try:
            self._restore()
        except BackupError as error:
            if not (self.double_checkpoint and self._has(WEIGHTS + ".bkp")):
                raise
            warnings.warn(f"{error} Restoring the previous backup instead (double_checkpoint).")
            for name in (WEIGHTS, METADATA):  # as Keras does: the previous one becomes latest
                if self._has(name + ".bkp"):
                    shutil.copyfile(self._path(name + ".bkp"), self._path(name))
            if self._has(_SAVING_METADATA):
                os.remove(self._path(_SAVING_METADATA))
            self._restore()

    def _check_directory(self):
        directory = self.backup_dir
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise BackupError(f"BackupAndRestore: backup_dir {directory} is a file, not a "
                              "directory.")
        foreign = sorted(set(os.listdir(directory)) - set(BACKUP_FILES)) if os.path.isdir(
            directory) else []
        if foreign:
            raise BackupError(
                f"BackupAndRestore: {directory} holds files it did not write ({foreign[:5]}"
                f"{' ...' if len(foreign) > 5 else ''}). It deletes its backup when training "
                "ends, so it needs a directory of its own: pass a new or empty backup_dir.")

    def _restore(self):
        weights, metadata = WEIGHTS, METADATA
        if not self._has(weights) and not self._has(metadata):
            return  # no backup (or only a first one cut off while saving): a fresh start
        if not self._has(weights):
            raise self._broken(f"{metadata} without {weights}")
        model = self.model
        if not model.built:
            raise ValueError("To use BackupAndRestore, the model must be built before fit().")
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(self._path(weights))
        except Exception as error:  # h5py and Keras raise several types for a bad file
            raise self._broken(f"{weights} cannot be loaded ({type(error).__name__}: {error})")
        # A kill between renaming the weights and the metadata leaves the new metadata under
        # its temporary name: take whichever matches the weights' optimizer step.
        steps = _optimizer_steps(model)
        if not self._has(metadata):
            raise self._broken(f"{weights} without {metadata}")
        found = [self._read_metadata(metadata)]
        if self._has(_SAVING_METADATA):
            try:
                found.append(self._read_metadata(_SAVING_METADATA))
            except BackupError:
                pass  # cut off while being written: the backup in place is the whole one
        state = next((m for m in found if steps is None or m.get("iterations", steps) == steps),
                     None)
        if state is None:
            raise self._broken(f"{metadata} records optimizer step {found[0]['iterations']} "
                               f"but the weights are at step {steps}")
        epochs = self.params.get("epochs") if self.params else None
        epoch = state["epoch"]
        if epochs is not None and epoch > epochs:
            raise BackupError(
                f"BackupAndRestore: the backup in {self.backup_dir} was taken at epoch {epoch}, "
                f"beyond this run's epochs={epochs}: it belongs to another run. Train with "
                f"epochs >= {epoch}, or start afresh: rm -r {shlex.quote(self.backup_dir)}")
        if epochs is not None and epoch == epochs:
            warnings.warn(f"BackupAndRestore: the backup in {self.backup_dir} says all "
                          f"{epochs} epochs are done; nothing is trained.")
        model._initial_epoch = epoch
        self._current_epoch = epoch
        self._skip = state.get("batches_done", 0)
        if self._skip:
            self._wrap_train_function()

    def _read_metadata(self, name):
        try:
            with open(self._path(name), encoding="utf-8") as f:
                state = json.load(f)
        except (OSError, ValueError) as error:
            raise self._broken(f"{name} cannot be read ({error})")
        ok = isinstance(state, dict) and all(
            isinstance(state.get(key), int) and not isinstance(state.get(key), bool)
            and state[key] >= 0 for key in ("epoch", "batch")) and all(
            isinstance(state[key], int) and state[key] >= 0
            for key in ("iterations", "batches_done") if key in state)
        if not ok:
            raise self._broken(f"{name} holds {str(state)[:100]!r}, not a backup's epoch "
                               "and batch")
        return state

    def _broken(self, problem):
        return BackupError(
            f"BackupAndRestore: the backup in {self.backup_dir} is corrupted: {problem}. "
            f"To start training afresh, delete it: rm -r {shlex.quote(self.backup_dir)}")

    # === Skipping the batches a resumed epoch has already trained on ===

    def _wrap_train_function(self):
        model = self.model
        real = self._real_train_function = model.train_function
        per_call = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        jax = keras.backend.backend() == "jax"

        def train_function(*args):
            if self._skip <= 0:
                model.train_function = real
                return real(*args)
            iterator = args[-1]  # TensorFlow: (iterator,); JAX: (state, iterator)
            for _ in range(per_call):
                next(iterator)  # read and drop the batch; StopIteration ends the epoch
            self._skip -= per_call
            self._skipped_last = True
            return ({}, args[0]) if jax else {}

        train_function._bertcls_real = real
        model.train_function = train_function

    def on_train_batch_end(self, batch, logs=None):
        if self._skipped_last:
            # A skipped batch: count it as the uninterrupted run did, which saved at the last.
            self._skipped_last = False
            self._last_batch_seen = batch
            self._batches_seen_since_last_saving = 0
            return
        if self._should_save_on_batch(batch):
            self._save_model(batches_done=batch + 1)

    def on_epoch_begin(self, epoch, logs=None):
        # Keras advances its counter only at epoch end; the resumed epoch starts at > 0.
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._skip = 0
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model(batches_done=0)

    # === Saving ===

    def _save_model(self, batches_done=0):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for name in (WEIGHTS, METADATA):
                if self._has(name):
                    shutil.copyfile(self._path(name), self._path(name + ".bkp"))
        state = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                 "batches_done": batches_done}
        steps = _optimizer_steps(self.model)
        if steps is not None:
            state["iterations"] = steps
        # Write both to temporary names, then rename: a kill leaves a whole backup.
        self.model.save_weights(self._path(_SAVING_WEIGHTS), overwrite=True)
        with open(self._path(_SAVING_METADATA), "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(self._path(_SAVING_WEIGHTS), self._path(WEIGHTS))
        os.replace(self._path(_SAVING_METADATA), self._path(METADATA))

    def on_train_end(self, logs=None):
        if self._real_train_function is not None:
            self.model.train_function = self._real_train_function
            self._real_train_function = None
        if not self.delete_checkpoint or not os.path.isdir(self.backup_dir):
            return
        for name in BACKUP_FILES:
            if self._has(name):
                os.remove(self._path(name))
        try:
            os.rmdir(self.backup_dir)
        except OSError:  # not empty: something else was put there during training
            pass

    def _path(self, name):
        return os.path.join(self.backup_dir, name)

    def _has(self, name):
        return os.path.isfile(self._path(name))


def _optimizer_steps(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.built:
        return None
    return int(keras.ops.convert_to_numpy(optimizer.iterations))
