"""What the distribution scripts share: one tiny classifier, fixed weights, toy data.

The weights are drawn with numpy, not Keras' initialisers, so every process and both
backends start from the same values.
"""

import json
import sys

import keras
import numpy as np

from bertcls import BertBackbone, BertClassifier

GLOBAL_BATCH = 8
EPOCHS = 2


def tiny_classifier():
    backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16, dropout=0.0, attention_dropout=0.0)
    model = BertClassifier(backbone, num_classes=2)
    rng = np.random.RandomState(0)
    model.set_weights([rng.normal(0.0, 0.2, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def compile_tiny(model, steps_per_execution=1):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  steps_per_execution=steps_per_execution)


def toy_data(n=32, length=8):
    rng = np.random.RandomState(1)
    lengths = rng.randint(3, length + 1, size=n)
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
    ids = (rng.randint(4, 30, size=(n, length)) * mask).astype("int32")
    ids[:, 0] = 2
    x = {"input_ids": ids, "attention_mask": mask,
         "token_type_ids": np.zeros((n, length), "int32")}
    y = (ids[:, 1] % 2).astype("int32")
    return x, y


def max_difference(a, b):
    return float(max(np.abs(np.asarray(u) - np.asarray(v)).max() for u, v in zip(a, b)))


def report(**values):
    """One JSON line the test reads back."""
    print("RESULT " + json.dumps(values), flush=True)
    sys.stdout.flush()
