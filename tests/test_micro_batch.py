"""compile(micro_batch_tokens=...): slices of a batch, one update, the same result."""

import keras
import numpy as np
import pytest

from bertcls import BertBackbone, BertClassifier, BertTagger, FeatureEncoder, make_dataset

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"w{i}" for i in range(12)]


def texts_and_labels(n=24, seed=0):
    rng = np.random.default_rng(seed)
    texts = [" ".join(f"w{j}" for j in rng.integers(0, 12, rng.integers(1, 14)))
             for _ in range(n)]
    return texts, rng.integers(0, 2, n)


def train(micro_batch_tokens, num_classes=2, sample_weight=False, bucketed=False):
    """Weights and history after one epoch of 3 batches of 8 (dropout off)."""
    keras.utils.set_random_seed(3)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16, dropout=0.0,
                            attention_dropout=0.0)
    encoder = FeatureEncoder(VOCAB, max_seq_len=16)
    model = BertClassifier(backbone, num_classes=num_classes, encoder=encoder)
    # SGD: Adam would turn float rounding in near-zero gradients into steps of +-lr.
    model.compile(optimizer=keras.optimizers.SGD(0.5), micro_batch_tokens=micro_batch_tokens)
    texts, labels = texts_and_labels()
    if num_classes > 2:
        labels = (labels + np.arange(len(labels))) % num_classes
    if sample_weight:
        x = encoder(texts)
        weights = np.linspace(0.2, 2.0, len(texts)).astype("float32")
        history = model.fit(dict(x), labels, sample_weight=weights, batch_size=8, epochs=1,
                            verbose=0, shuffle=False)
    else:
        ds = make_dataset(texts, labels, encoder=encoder, batch_size=8,
                          bucket_lengths="auto" if bucketed else None)
        history = model.fit(ds, epochs=1, verbose=0)
    return model.get_weights(), history.history


@pytest.mark.parametrize("case", [
    dict(tokens=40),                      # 2 rows per slice of 16: slices of 2, 2, 2, 2
    dict(tokens=48, num_classes=3),       # 3 rows: slices of 3, 3, 2 (uneven last slice)
    dict(tokens=32, bucketed=True),       # make_dataset's bucketed pipeline: 2 rows
    dict(tokens=40, sample_weight=True),  # sample weights sliced with the rows
])
def test_micro_batches_give_the_whole_batch_update(case):
    tokens = case.pop("tokens")
    whole_weights, whole_history = train(None, **case)
    micro_weights, micro_history = train(tokens, **case)
    for a, b in zip(whole_weights, micro_weights):
        np.testing.assert_allclose(a, b, atol=2e-6)
    for key in whole_history:
        np.testing.assert_allclose(whole_history[key], micro_history[key], rtol=1e-5)


class CountingHead(keras.layers.Layer):
    """A sigmoid head on the pooled output that counts its calls in training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1, activation="sigmoid")
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="calls")

    def call(self, features, training=None):
        if training:
            self.calls.assign_add(1.0)
        return self.dense(features["pooled_output"])


@pytest.mark.parametrize("tokens, calls", [(None, 3), (40, 12)])
def test_each_slice_runs_forward_once(tokens, calls):
    # 3 batches of 8 rows, 16 tokens long: 40 tokens -> slices of 2 rows (4 per batch).
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)
    head = CountingHead()
    encoder = FeatureEncoder(VOCAB, max_seq_len=16)
    model = BertClassifier(backbone, head=head, encoder=encoder)
    model.compile(micro_batch_tokens=tokens)
    texts, labels = texts_and_labels()
    model.fit(make_dataset(texts, labels, encoder=encoder, batch_size=8, bucket_lengths=None),
              epochs=1, verbose=0)
    assert float(head.calls.numpy()) == calls


def test_tagger_trains_with_micro_batches():
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)
    tagger = BertTagger(backbone, tags=["O", "B-X", "I-X"])
    tagger.compile(micro_batch_tokens=16)
    x = FeatureEncoder(VOCAB, max_seq_len=8)(["w1 w2 w3", "w4", "w5 w6"])
    y = np.where(np.asarray(x["attention_mask"]) == 1, 0, -100)
    history = tagger.fit(dict(x), y, batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("value", [0, -5, 1.5, True, "1024"])
def test_bad_micro_batch_tokens(value):
    model = BertClassifier(BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                                        hidden_size=8, intermediate_size=16))
    with pytest.raises(ValueError, match="micro_batch_tokens"):
        model.compile(micro_batch_tokens=value)


def test_micro_batches_refuse_xla():
    model = BertClassifier(BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                                        hidden_size=8, intermediate_size=16))
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile(micro_batch_tokens=64, jit_compile=True)
    model.compile(micro_batch_tokens=None, jit_compile=True)  # without: fine
