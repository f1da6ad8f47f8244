"""`BackupAndRestore`: Keras' preemption callback, fixed to survive repeated interruptions."""

import os

import keras

from bertcls.training.distribute import process_shard


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that survives repeated interruptions and processes.

    A drop-in replacement (same arguments) fixing two things in Keras 3.15:

    - After a resume, Keras' backups taken within an epoch (`save_freq=<int>`) record epoch
      0 until that epoch ends, so a second interruption restarts training from epoch 0. Here
      every backup records the epoch it was taken in.
    - With several JAX processes each one writes `backup_dir/process_<index>`, so processes
      sharing a file system do not overwrite one another's files.

    As in Keras, a run resumed from a backup taken within an epoch starts that epoch again
    from its first batch (on the backed-up weights): the epoch count is exact, the batches of
    that epoch before the backup are seen twice. `save_freq="epoch"` resumes exactly.

    Args:
        backup_dir: directory for the backup (used by this callback only).
        save_freq: `"epoch"` or a number of batches between backups.
        double_checkpoint, delete_checkpoint: as in Keras.

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
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint)

    def on_epoch_begin(self, epoch, logs=None):
        # Keras advances its counter only at epoch end; the resumed epoch starts at > 0.
        self._current_epoch = epoch
