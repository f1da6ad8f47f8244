"""BertHead: pooling modes, activations, masking, config round trip, errors."""

import inspect

import keras
import numpy as np
import pytest

from bertcls import BertHead


def features(seed=0, batch=3, length=5, hidden=8):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), "int32")
    mask[0, 3:] = 0
    return {"sequence_output": rng.normal(size=(batch, length, hidden)).astype("float32"),
            "pooled_output": rng.normal(size=(batch, hidden)).astype("float32"),
            "attention_mask": mask}


def dense_of(head, x):
    kernel, bias = (np.asarray(w) for w in head.dense.weights)
    return x @ kernel + bias


@pytest.mark.parametrize("pooling", ["pooled", "cls", "mean"])
def test_many_to_one_reads_the_chosen_vector(pooling):
    head = BertHead(num_outputs=4, pooling=pooling, activation=None)
    f = features()
    out = np.asarray(head(f))
    seq, mask = f["sequence_output"], f["attention_mask"][..., None]
    vector = {"pooled": f["pooled_output"], "cls": seq[:, 0],
              "mean": (seq * mask).sum(1) / mask.sum(1)}[pooling]
    np.testing.assert_allclose(out, dense_of(head, vector), rtol=1e-5, atol=1e-5)


def test_mean_pooling_ignores_padded_positions():
    head = BertHead(num_outputs=2, pooling="mean")
    f = features()
    before = np.asarray(head(f))
    f["sequence_output"][0, 3:] = 100.0
    np.testing.assert_allclose(np.asarray(head(f)), before, rtol=1e-6)


def test_many_to_many_and_activations():
    f = features()
    logits_head = BertHead(num_outputs=5, task_type="many_to_many", activation=None)
    logits = np.asarray(logits_head(f))
    assert logits.shape == (3, 5, 5)
    np.testing.assert_allclose(logits, dense_of(logits_head, f["sequence_output"]), atol=1e-5)
    softmax = BertHead(num_outputs=5, task_type="many_to_many", activation="softmax")
    softmax(f)
    softmax.set_weights(logits_head.get_weights())
    probs = np.asarray(softmax(f))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.log(probs), logits - np.log(np.exp(logits).sum(-1,
                               keepdims=True)), atol=1e-4)
    sigmoid = BertHead(num_outputs=1)
    assert np.all((np.asarray(sigmoid(f)) > 0) & (np.asarray(sigmoid(f)) < 1))


def test_dropout_only_in_training():
    head = BertHead(num_outputs=3, dropout=0.5, activation=None)
    f = features()
    np.testing.assert_allclose(np.asarray(head(f)), np.asarray(head(f)))
    assert not np.allclose(np.asarray(head(f, training=True)), np.asarray(head(f)))


def test_default_initializer_is_truncated_normal_002():
    head = BertHead(num_outputs=64)
    head(features(hidden=64))
    kernel = np.asarray(head.dense.kernel)
    assert abs(kernel.std() - 0.02 * 0.88) < 0.004  # truncated at 2 stddev: std ~0.88 * 0.02
    assert np.abs(kernel).max() <= 0.04 + 1e-6


def test_config_round_trip_matches_constructor():
    head = BertHead(num_outputs=3, task_type="many_to_many", pooling="cls",
                    activation="softmax", dropout=0.2,
                    kernel_initializer=keras.initializers.GlorotUniform(seed=1), name="h")
    config = head.get_config()
    params = set(inspect.signature(BertHead.__init__).parameters) - {"self", "kwargs"}
    assert params <= set(config)
    clone = BertHead.from_config(config)
    assert clone.get_config() == config
    assert isinstance(clone.kernel_initializer, keras.initializers.GlorotUniform)
    assert BertHead.from_config(BertHead().get_config()).kernel_initializer is None


@pytest.mark.parametrize("kwargs, message", [
    ({"num_outputs": 0}, "num_outputs"),
    ({"num_outputs": True}, "num_outputs"),
    ({"task_type": "many"}, "task_type"),
    ({"pooling": "max"}, "pooling"),
    ({"activation": "relu"}, "activation"),
    ({"dropout": 1.5}, "dropout"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertHead(**kwargs)


def test_mean_pooling_needs_mask():
    f = features()
    del f["attention_mask"]
    with pytest.raises(ValueError, match="attention_mask"):
        BertHead(pooling="mean")(f)
