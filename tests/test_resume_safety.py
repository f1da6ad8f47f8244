"""`BackupAndRestore` with hostile directories and broken backups (issue #10): it deletes
only what it wrote, refuses what it cannot use with the command to start afresh, and a
resumed run takes exactly the optimizer steps of an uninterrupted one.

Interruptions here are exceptions raised from a callback (fit stops, the backup stays), so
they run in this process; tests/test_distribute.py kills real processes."""

import json
import os
import textwrap

import keras
import numpy as np
import pytest

from bertcls.training import callbacks
from bertcls.training.callbacks import BackupAndRestore, BackupError
from warm import warm_run

STEPS = 4  # batches an epoch
EPOCHS = 3


class Stop(Exception):
    pass


class StopAt(keras.callbacks.Callback):
    """Raises at the end of batch `batch` of epoch `epoch`, like a preemption."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise Stop()


def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(STEPS * 4, 3)).astype("float32"), rng.normal(
        size=(STEPS * 4, 1)).astype("float32")


def new_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", run_eagerly=True)
    return model


def fit(model, backup, *extra, epochs=EPOCHS, **kwargs):
    x, y = data()
    return model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=[backup, *extra], **kwargs)


def steps(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def interrupted(directory, epoch=1, batch=2, save_freq=2, **kwargs):
    """A model trained until a Stop at (epoch, batch), its backup left in `directory`."""
    model = new_model()
    with pytest.raises(Stop):
        fit(model, BackupAndRestore(directory, save_freq=save_freq, **kwargs),
            StopAt(epoch, batch))
    return model


# === Exact resume ===

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A run never interrupted (its backups do not change the training)."""
    model = new_model()
    fit(model, BackupAndRestore(tmp_path_factory.mktemp("reference"), save_freq=2))
    return model


@pytest.mark.parametrize("save_freq, stop, resumed_at", [(2, (1, 2), 6), (1, (0, 0), 1),
                                                         ("epoch", (1, 3), 4), (3, (2, 1), 9)])
def test_resume_takes_the_uninterrupted_steps(tmp_path, reference, save_freq, stop,
                                              resumed_at):
    interrupted(tmp_path / "b", *stop, save_freq=save_freq)

    model = new_model()  # a new process: fresh weights, restored from the backup
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(steps(model)))
    history = fit(model, BackupAndRestore(tmp_path / "b", save_freq=save_freq), record)
    assert seen == [resumed_at]
    assert history.epoch == list(range(resumed_at // STEPS, EPOCHS))
    assert steps(model) == steps(reference) == EPOCHS * STEPS
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert not (tmp_path / "b").exists()


def test_interrupted_while_skipping_then_resumed_with_the_same_model(tmp_path):
    model = interrupted(tmp_path / "b", 1, 2)
    with pytest.raises(Stop):  # stopped again on a batch the resume skips
        fit(model, BackupAndRestore(tmp_path / "b", save_freq=2), StopAt(1, 0))
    fit(model, BackupAndRestore(tmp_path / "b", save_freq=2))
    assert steps(model) == EPOCHS * STEPS


# === Only its own files ===

def test_directory_with_other_files_is_refused_and_kept(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "model.keras").write_text("also mine")
    with pytest.raises(BackupError, match=r"files it did not write \(\['model.keras', "
                                          r"'notes.txt'\]\).*new or empty backup_dir"):
        fit(new_model(), BackupAndRestore(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(BackupError, match="is a file"):
        fit(new_model(), BackupAndRestore(tmp_path / "file"))


def test_only_backup_files_are_deleted_at_the_end(tmp_path):
    directory = tmp_path / "b"

    def drop_a_file(epoch, logs):
        (directory / f"written-by-someone-else-{epoch}.txt").write_text("keep")

    fit(new_model(), BackupAndRestore(directory),
        keras.callbacks.LambdaCallback(on_epoch_end=drop_a_file), epochs=1)
    assert sorted(p.name for p in directory.iterdir()) == ["written-by-someone-else-0.txt"]


# === Broken backups ===

def test_truncated_weights_name_the_directory_and_the_fix(tmp_path):
    interrupted(tmp_path)
    weights = tmp_path / callbacks.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(BackupError, match=f"backup in {tmp_path} is corrupted: "
                                          f"latest.weights.h5 cannot be loaded.*rm -r {tmp_path}"):
        fit(new_model(), BackupAndRestore(tmp_path, save_freq=2))
    assert weights.exists()  # nothing deleted: the user decides


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    interrupted(tmp_path, 2, 2, double_checkpoint=True)  # backups at steps 2, 4, ..., 10
    (tmp_path / callbacks.WEIGHTS).write_bytes(b"not hdf5")
    model = new_model()
    with pytest.warns(UserWarning, match="previous backup"):
        fit(model, BackupAndRestore(tmp_path, save_freq=2, double_checkpoint=True))
    assert steps(model) == EPOCHS * STEPS


@pytest.mark.parametrize("metadata, problem", [
    ("{", "cannot be read"),
    ('{"epoch": "1", "batch": 0}', "holds .*, not a backup's epoch and batch"),
    ('[1, 2]', "holds .*, not a backup's epoch and batch"),
    ('{"epoch": 1, "batch": 1, "iterations": 3}', "records optimizer step 3 but the weights "
                                                  "are at step 6"),
    (None, "latest.weights.h5 without training_metadata.json"),
])
def test_broken_metadata(tmp_path, metadata, problem):
    interrupted(tmp_path)
    path = tmp_path / callbacks.METADATA
    if metadata is None:
        path.unlink()
    else:
        path.write_text(metadata)
    with pytest.raises(BackupError, match=f"corrupted: (training_metadata.json )?{problem}"
                                          ".*rm -r"):
        fit(new_model(), BackupAndRestore(tmp_path, save_freq=2))


def test_backup_from_beyond_the_runs_epochs_is_an_error(tmp_path):
    interrupted(tmp_path, 2, 1)  # a backup at epoch 2
    with pytest.raises(BackupError, match=r"epoch 2, beyond this run's epochs=1.*epochs >= 2"
                                          f".*rm -r {tmp_path}"):
        fit(new_model(), BackupAndRestore(tmp_path, save_freq=2), epochs=1)


def test_kill_between_renames_resumes_from_the_new_backup(tmp_path, monkeypatch):
    model = interrupted(tmp_path, 1, 0)  # last backup after step 4 (end of epoch 0)
    real_replace = os.replace

    def die_before_metadata(source, target):
        if str(target).endswith(callbacks.METADATA):
            raise Stop()  # the weights of step 6 are in place, their metadata is not
        real_replace(source, target)

    monkeypatch.setattr(callbacks.os, "replace", die_before_metadata)
    with pytest.raises(Stop):
        fit(model, BackupAndRestore(tmp_path, save_freq=2))
    monkeypatch.undo()
    assert json.loads((tmp_path / callbacks.METADATA).read_text())["iterations"] == 4
    resumed = new_model()
    seen = []
    fit(resumed, BackupAndRestore(tmp_path, save_freq=2), keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(steps(resumed))))
    assert seen == [6] and steps(resumed) == EPOCHS * STEPS


# === JAX ===

@pytest.mark.jax
def test_exact_resume_on_jax():
    script = textwrap.dedent("""
        import sys, tempfile
        sys.path.insert(0, sys.argv[1])
        import numpy as np
        import test_resume_safety as t
        from bertcls import BackupAndRestore

        directory = tempfile.mkdtemp()
        reference = t.new_model()
        t.fit(reference, BackupAndRestore(directory + "/r", save_freq=2))
        try:
            t.fit(t.new_model(), BackupAndRestore(directory + "/b", save_freq=2), t.StopAt(1, 2))
        except t.Stop:
            pass
        model = t.new_model()
        t.fit(model, BackupAndRestore(directory + "/b", save_freq=2))
        gap = max(float(np.abs(a - b).max())
                  for a, b in zip(model.get_weights(), reference.get_weights()))
        print("RESULT", t.steps(model), t.steps(reference), gap)
    """)
    done = warm_run("jax", ["-c", script, os.path.dirname(__file__)], timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, done.stdout + done.stderr[-3000:]
    got, want, gap = lines[-1].split()[1:]
    assert int(got) == int(want) == EPOCHS * STEPS and float(gap) < 1e-6
