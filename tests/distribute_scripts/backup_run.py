"""Train with `bertcls.BackupAndRestore`, optionally dying mid-epoch like a preempted job.

Usage: python backup_run.py BACKUP_DIR LOG_FILE [EPOCH BATCH]
With EPOCH and BATCH (0-based) the process calls os._exit at the end of that batch. Each
event is appended to LOG_FILE as one JSON line, so the test reads all runs back; a run that
finishes saves its weights to LOG_FILE.npz.
"""

import json
import os
import sys

import keras
import numpy as np
from common import GLOBAL_BATCH, compile_tiny, tiny_classifier, toy_data

from bertcls import BackupAndRestore

EPOCHS = 4
SAVE_FREQ = 2  # batches between backups: 4 batches an epoch, so one backup mid-epoch
backup_dir, log_file = sys.argv[1], sys.argv[2]
kill_at = tuple(int(v) for v in sys.argv[3:5]) or None


def log(**event):
    with open(log_file, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")


class Events(keras.callbacks.Callback):
    """Logs what the run does; dies at `kill_at` without any clean-up, as a kill would."""

    def on_train_begin(self, logs=None):
        # Runs after BackupAndRestore (earlier in the list) has restored the backup.
        log(event="train_begin",
            iterations=int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        log(event="epoch_begin", epoch=epoch)

    def on_train_batch_end(self, batch, logs=None):
        log(event="batch_end", epoch=self.epoch, batch=batch,
            iterations=int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)))
        if kill_at == (self.epoch, batch):
            log(event="killed", epoch=self.epoch, batch=batch)
            os._exit(17)

    def on_epoch_end(self, epoch, logs=None):
        log(event="epoch_end", epoch=epoch)


x, y = toy_data()
model = tiny_classifier()
compile_tiny(model)
history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                    callbacks=[BackupAndRestore(backup_dir, save_freq=SAVE_FREQ), Events()])
log(event="finished", epochs=history.epoch,
    iterations=int(keras.ops.convert_to_numpy(model.optimizer.iterations)))
np.savez(log_file + ".npz", *[np.asarray(w) for w in model.get_weights()])
