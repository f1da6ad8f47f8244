"""TensorFlow: SiameseModel on bucketed pair batches, MirroredStrategy over 2 logical CPUs vs
one device, same global batches (cosine objective); ranking (per-replica negatives) runs.

Plain SGD: Adam's first step is about lr * sign(gradient), which turns float round-off in
gradients that are zero in exact arithmetic (cosine is blind to the embeddings' scale) into
differences of the learning rate's size."""

import tensorflow as tf

# Before TensorFlow starts its runtime: split the CPU into two devices to mirror over.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import max_difference, report  # noqa: E402

from bertcls import (BertBackbone, FeatureEncoder, SentenceEmbedder, SiameseModel,  # noqa: E402
                     get_strategy, make_siamese_dataset)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"w{i}" for i in range(26)]
GLOBAL_BATCH = 8


def pairs(n=16):
    rng = np.random.RandomState(1)

    def text():
        return " ".join(f"w{i}" for i in rng.randint(0, 26, size=rng.randint(1, 24)))

    return ([text() for _ in range(n)], [text() for _ in range(n)],
            rng.uniform(0, 1, n).astype("float32"))


def model_for(objective):
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16, dropout=0.0,
                            attention_dropout=0.0)
    model = SiameseModel(SentenceEmbedder(backbone), objective=objective)
    rng = np.random.RandomState(0)
    model.set_weights([rng.normal(0.0, 0.2, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def train(objective, labels, runtime=None):
    encoder = FeatureEncoder(VOCAB, max_seq_len=32)
    data = make_siamese_dataset((a, b), labels, encoder=encoder, batch_size=GLOBAL_BATCH,
                                bucket_lengths=[16, 32], drop_remainder=True)
    scope = runtime.scope() if runtime else keras.name_scope("single")
    with scope:
        model = model_for(objective)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5))
    history = model.fit(data, epochs=1, verbose=0)
    return model, history


a, b, similarity = pairs()
runtime = get_strategy("mirrored")
results = {"num_replicas": runtime.num_replicas,
           "strategy": type(runtime.strategy).__name__}
for objective, labels in (("cosine", similarity),):
    initial = model_for(objective).get_weights()
    single, _ = train(objective, labels)
    mirrored, history = train(objective, labels, runtime)
    results[objective] = {
        "max_difference": max_difference(single.get_weights(), mirrored.get_weights()),
        "moved": max_difference(initial, mirrored.get_weights()),
        "loss": history.history["loss"]}
_, history = train("ranking", None, runtime)
results["ranking"] = {"loss": history.history["loss"]}
report(**results)
