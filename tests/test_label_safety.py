"""Labels are checked on every batch of a `tf.data` pipeline, not only the first (issue #10):
a bad batch anywhere stops `fit`/`evaluate` with the task's own `ValueError` and the batch."""

import os
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertcls import BertBackbone, BertClassifier, BertTagger
from warm import warm_run

N, LENGTH, BATCH = 16, 6, 4


def backbone():
    return BertBackbone(vocabulary_size=20, num_layers=1, num_heads=2, hidden_size=8,
                        intermediate_size=16, dropout=0.0, attention_dropout=0.0)


def features(n=N):
    rng = np.random.RandomState(0)
    return {"input_ids": rng.randint(1, 20, (n, LENGTH)).astype("int32"),
            "attention_mask": np.ones((n, LENGTH), "int32"),
            "token_type_ids": np.zeros((n, LENGTH), "int32")}


def dataset(labels, *extra):
    return tf.data.Dataset.from_tensor_slices((features(), labels, *extra)).batch(BATCH)


def classifier(run_eagerly=True, **kwargs):
    """Eager unless asked: tracing costs more than these tiny steps (one test runs traced)."""
    keras.utils.set_random_seed(0)
    model = BertClassifier(backbone(), **kwargs)
    model.compile(run_eagerly=run_eagerly)
    return model


def steps(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def test_out_of_range_label_in_batch_two_stops_training():
    labels = np.array([0, 1, 2] * 5 + [0])
    labels[9] = 3  # in batch 2
    model = classifier(run_eagerly=False, num_classes=3)  # a traced train function
    with pytest.raises(ValueError, match=r"^Labels of batch 2 \(counting from 0.*\): Class ids "
                                         r"\(num_classes=3\) must lie in \[0, 2\], received "
                                         "values from 1 to 3"):
        model.fit(dataset(labels), epochs=1, verbose=0)
    # Batches 0 and 1 trained, not the bad one. (Traced, the failed call still advances the
    # optimizer's step counter, which does not wait for the data: 3, with no update.)
    trained_two = classifier(num_classes=3)
    keras.Model.fit(trained_two, dataset(labels).take(2), epochs=1, verbose=0)
    assert steps(trained_two) == 2 and steps(model) in (2, 3)
    for a, b in zip(model.get_weights(), trained_two.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("bad, message", [
    (-5, r"Tag labels must be in \[0, 3\) or -100 \(ignored\), received \[-5\]"),
    (3, r"received \[3\]"),
    (1.5, "Tag labels must be integer tag ids"),
])
def test_tagger_checks_every_batch(bad, message):
    labels = np.zeros((N, LENGTH), "float32" if isinstance(bad, float) else "int32")
    labels[:, 0] = -100
    labels[N - 1, 2] = bad  # the last batch
    tagger = BertTagger(backbone(), num_tags=3)
    tagger.compile(run_eagerly=True)
    with pytest.raises(ValueError, match=f"Labels of batch 3 .*{message}"):
        tagger.fit(dataset(labels), epochs=1, verbose=0)


def test_validation_and_evaluate_batches_are_checked_too():
    good, bad = np.zeros(N, "int32"), np.zeros(N, "int32")
    bad[5] = 1  # binary: 0/1 are fine ...
    bad[6] = 2  # ... 2 is not, in batch 1
    model = classifier()
    with pytest.raises(ValueError, match=r"batch 1 .*Binary labels must lie in \[0, 1\]"):
        model.fit(dataset(good), validation_data=dataset(bad), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch 1 .*Binary labels"):
        model.evaluate(dataset(bad), verbose=0)


def test_nan_in_a_later_batch_of_multi_label_targets():
    labels = np.zeros((N, 3), "float32")
    labels[N - 2, 1] = np.nan
    model = classifier(num_classes=3, multi_label=True)
    with pytest.raises(ValueError, match="batch 3 .*NaN"):
        model.fit(dataset(labels), epochs=1, verbose=0)


def test_good_data_trains_exactly_as_without_the_check():
    labels = np.array([0, 1] * 8, "int32")
    weights = np.linspace(0.5, 1.5, N).astype("float32")
    checked, plain = classifier(), classifier()
    checked.fit(dataset(labels, weights), epochs=2, verbose=0)
    keras.Model.fit(plain, dataset(labels, weights), epochs=2, verbose=0)  # no bertcls checks
    assert steps(checked) == steps(plain) == 2 * N // BATCH
    for a, b in zip(checked.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.jax
def test_every_batch_is_checked_on_jax():
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import numpy as np
        import test_label_safety as t

        labels = np.zeros(t.N, "int32")
        labels[9] = 5
        model = t.classifier()
        try:
            model.fit(t.dataset(labels), epochs=1, verbose=0)
        except ValueError as error:
            print("ERROR", t.steps(model), error)
    """)
    done = warm_run("jax", ["-c", script, os.path.dirname(__file__)], timeout=300)
    assert "ERROR 2 Labels of batch 2" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "Binary labels must lie in [0, 1]" in done.stdout
