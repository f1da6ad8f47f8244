"""JAX: train the tiny classifier under `get_strategy`, in one process or several.

Usage: KERAS_BACKEND=jax python jax_train.py OUT_PREFIX
Several processes are configured through KERAS_DISTRIBUTION_JOB_ADDRESSES /
KERAS_DISTRIBUTION_NUM_PROCESSES / KERAS_DISTRIBUTION_PROCESS_ID. Trains `EPOCHS` epochs on
the global dataset (Keras gives each process its part), saves the weights, then `EPOCHS` more
on a dataset each process shards itself with `process_shard` (same global batches), saves again.
Continuing one model keeps it to one compilation.
"""

import sys

import keras
import numpy as np
import tensorflow as tf
from common import EPOCHS, GLOBAL_BATCH, compile_tiny, report, tiny_classifier, toy_data

from bertcls import get_strategy, process_shard

assert keras.backend.backend() == "jax"
prefix = sys.argv[1]
x, y = toy_data()
examples = tf.data.Dataset.from_tensor_slices((x, y))

runtime = get_strategy("auto")
with runtime.scope():
    model = tiny_classifier()
    compile_tiny(model, steps_per_execution=runtime.steps_per_execution)
history = model.fit(examples.batch(GLOBAL_BATCH), epochs=EPOCHS, shuffle=False, verbose=0)
np.savez(f"{prefix}_global.npz", *[np.asarray(w) for w in model.get_weights()])

get_strategy("auto", auto_shard_dataset=False)  # each process now reads only its own examples
num_processes, index = process_shard()
own = examples.shard(num_processes, index).batch(GLOBAL_BATCH // num_processes)
more = model.fit(own, epochs=2 * EPOCHS, initial_epoch=EPOCHS, shuffle=False, verbose=0)
np.savez(f"{prefix}_sharded.npz", *[np.asarray(w) for w in model.get_weights()])

report(num_processes=runtime.num_processes, process_index=runtime.process_index,
       num_replicas=runtime.num_replicas, kind=runtime.kind,
       epochs=len(history.epoch) + len(more.epoch), shard=[num_processes, index])
