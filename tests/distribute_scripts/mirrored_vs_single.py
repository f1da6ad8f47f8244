"""TensorFlow: MirroredStrategy over 2 logical CPUs vs one device, same global batches."""

import tensorflow as tf

# Before TensorFlow starts its runtime: split the CPU into two devices to mirror over.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from common import (EPOCHS, GLOBAL_BATCH, compile_tiny, max_difference,  # noqa: E402
                    report, tiny_classifier, toy_data)

from bertcls import get_strategy  # noqa: E402

x, y = toy_data()
initial = tiny_classifier().get_weights()

single = tiny_classifier()
compile_tiny(single)
single.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)

runtime = get_strategy("mirrored")
with runtime.scope():
    mirrored = tiny_classifier()
    compile_tiny(mirrored, steps_per_execution=runtime.steps_per_execution)
per_replica = GLOBAL_BATCH // runtime.num_replicas
history = mirrored.fit(x, y, batch_size=runtime.global_batch_size(per_replica), epochs=EPOCHS,
                       shuffle=False, verbose=0)

report(num_replicas=runtime.num_replicas, kind=runtime.kind,
       strategy=type(runtime.strategy).__name__, epochs=len(history.epoch),
       max_difference=max_difference(single.get_weights(), mirrored.get_weights()),
       moved=max_difference(initial, mirrored.get_weights()))
