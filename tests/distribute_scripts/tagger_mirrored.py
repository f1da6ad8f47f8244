"""TensorFlow: one SGD step of a BertTagger with its masked loss, MirroredStrategy over 2
logical CPUs vs one device, same global batch. Each replica's half holds the same number of
labelled tokens, so the mean of the two per-replica masked means is the global masked mean:
weights and the reported loss must agree. A loss that comes out of `Loss.call` as a scalar
skips Keras' division by the replica count, doubling both."""

import tensorflow as tf

# Before TensorFlow starts its runtime: split the CPU into two devices to mirror over.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import max_difference, report  # noqa: E402

from bertcls import BertBackbone, BertTagger, get_strategy  # noqa: E402

GLOBAL_BATCH, LENGTH = 4, 6
rng = np.random.RandomState(1)
x = {"input_ids": rng.randint(4, 20, (GLOBAL_BATCH, LENGTH)).astype("int32"),
     "attention_mask": np.ones((GLOBAL_BATCH, LENGTH), "int32"),
     "token_type_ids": np.zeros((GLOBAL_BATCH, LENGTH), "int32")}
y = rng.randint(0, 3, (GLOBAL_BATCH, LENGTH)).astype("int32")
# Rows 0-1 go to replica 0, rows 2-3 to replica 1: 7 labelled tokens on each side.
y[0, [0, 5]] = -100
y[1, [0, 1, 5]] = -100
y[2, [0, 4, 5]] = -100
y[3, [0, 5]] = -100


def tagger():
    backbone = BertBackbone(vocabulary_size=20, num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16, dropout=0.0, attention_dropout=0.0)
    model = BertTagger(backbone, num_tags=3, dropout=0.0)
    weights = np.random.RandomState(0)
    model.set_weights([weights.normal(0.0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def train(runtime=None):
    scope = runtime.scope() if runtime else keras.name_scope("single")
    with scope:
        model = tagger()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
    return model, history.history["loss"][0]


initial = tagger()
labelled = y != -100
log_probs = np.log(np.asarray(initial(x)).astype("float64"))  # softmax output
expected = float(-np.take_along_axis(log_probs, np.where(labelled, y, 0)[..., None],
                                     -1)[..., 0][labelled].mean())
single, single_loss = train()
runtime = get_strategy("mirrored")
mirrored, mirrored_loss = train(runtime)
report(num_replicas=runtime.num_replicas, strategy=type(runtime.strategy).__name__,
       expected_loss=expected, single_loss=single_loss, mirrored_loss=mirrored_loss,
       moved=max_difference(initial.get_weights(), single.get_weights()),
       max_difference=max_difference(single.get_weights(), mirrored.get_weights()))
