"""tf.data pipelines: bucketing keeps every example intact, shuffling, sharding, errors."""


import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, BertClassifier, FeatureEncoder, encode_texts, make_dataset,
                     validation_split)
from bertcls.training.pipeline import default_bucket_lengths

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "very", "!"]
WORDS = ["good", "bad", "movie", "very", "!", "meh"]  # "meh" -> [UNK]


def texts_of(n, seed=0, longest=70):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, longest))) for _ in range(n)]


@pytest.fixture
def encoder():
    return FeatureEncoder(VOCAB, max_seq_len=64)


def collect(ds):
    """All rows of a (features, labels) dataset, with the batch shapes seen."""
    rows, shapes = [], []
    for features, labels in ds:
        features = {k: v.numpy() for k, v in features.items()}
        shapes.append(features["input_ids"].shape)
        for j, label in enumerate(labels.numpy()):
            rows.append((label, {k: v[j] for k, v in features.items()}))
    return rows, shapes


def test_default_bucket_lengths():
    assert default_bucket_lengths(128) == [16, 32, 64, 128]
    assert default_bucket_lengths(16) == [16]
    assert default_bucket_lengths(10) == [10]


def test_bucketed_rows_equal_fixed_length_encoding(encoder):
    texts = texts_of(300)
    expected = {k: v.numpy() for k, v in encoder(texts).items()}  # fixed 64
    rows, shapes = collect(make_dataset(texts, np.arange(300), encoder=encoder, batch_size=32))
    # Nothing dropped or duplicated; every batch padded to a bucket length.
    assert sorted(label for label, _ in rows) == list(range(300))
    assert {shape[1] for shape in shapes} <= {16, 32, 64}
    assert len({shape[1] for shape in shapes}) > 1
    for label, row in rows:
        width = len(row["input_ids"])
        n = int(expected["attention_mask"][label].sum())
        assert n <= width
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(row[key], expected[key][label][:width])
        # Only padding was cut away.
        assert expected["attention_mask"][label][width:].sum() == 0
        # The bucket is the smallest one that fits.
        assert width == min(b for b in (16, 32, 64) if b >= n)


def test_fixed_length_switch_reproduces_the_tutorial(encoder):
    texts = texts_of(50)
    rows, shapes = collect(make_dataset(texts, np.arange(50), encoder=encoder, batch_size=16,
                                        bucket_lengths=None))
    assert {shape[1] for shape in shapes} == {64}
    expected = encoder(texts)["input_ids"].numpy()
    for label, row in rows:
        np.testing.assert_array_equal(row["input_ids"], expected[label])


def test_drop_remainder_gives_full_batches_only(encoder):
    texts = texts_of(100)
    _, shapes = collect(make_dataset(texts, np.arange(100), encoder=encoder, batch_size=8,
                                     drop_remainder=True))
    assert all(shape[0] == 8 for shape in shapes)
    _, shapes = collect(make_dataset(texts, np.arange(100), encoder=encoder, batch_size=8,
                                     drop_remainder=True, bucket_lengths=None))
    assert all(shape == (8, 64) for shape in shapes) and len(shapes) == 12


def test_shuffle_is_seeded_and_reshuffles_each_epoch(encoder):
    texts = texts_of(200)

    def order(ds):
        return [label for label, _ in collect(ds)[0]]

    a = make_dataset(texts, np.arange(200), encoder=encoder, shuffle=True, seed=3)
    b = make_dataset(texts, np.arange(200), encoder=encoder, shuffle=True, seed=3)
    first, second = order(a), order(a)
    assert first == order(b)
    assert first != second and sorted(first) == sorted(second) == list(range(200))
    assert order(make_dataset(texts, np.arange(200), encoder=encoder)) != first


def test_shards_partition_the_data(encoder):
    texts = texts_of(101)
    seen = []
    for index in range(3):
        ds = make_dataset(texts, np.arange(101), encoder=encoder, num_shards=3,
                          shard_index=index, shuffle=True, seed=0)
        seen.append({label for label, _ in collect(ds)[0]})
    assert set.union(*seen) == set(range(101))
    assert sum(len(s) for s in seen) == 101


def test_sentence_pairs(encoder):
    a, b = texts_of(40, seed=1, longest=20), texts_of(40, seed=2, longest=20)
    expected = {k: v.numpy() for k, v in encoder((a, b)).items()}
    rows, _ = collect(make_dataset((a, b), np.arange(40), encoder=encoder, batch_size=8))
    assert len(rows) == 40
    for label, row in rows:
        width = len(row["input_ids"])
        np.testing.assert_array_equal(row["token_type_ids"],
                                      expected["token_type_ids"][label][:width])
        np.testing.assert_array_equal(row["input_ids"], expected["input_ids"][label][:width])


def test_pre_encoded_features_with_token_labels(encoder):
    texts = texts_of(60, longest=30)
    features = encode_texts(encoder, texts)
    mask = features["attention_mask"]
    # Each example's real tokens carry its own index (so rows can be matched after
    # bucketing reorders them); [CLS] and padding are -100.
    token_labels = np.where(mask == 1, np.arange(60)[:, None], -100).astype("int32")
    token_labels[:, 0] = -100
    rows, shapes = [], []
    for batch, labels in make_dataset(features, token_labels, batch_size=16):
        shapes.append(tuple(batch["input_ids"].shape))
        for j, row_labels in enumerate(labels.numpy()):
            rows.append((int(row_labels[1]), batch["input_ids"].numpy()[j], row_labels))
    assert sorted(index for index, _, _ in rows) == list(range(60))
    assert {s[1] for s in shapes} <= {16, 32, 64}
    for index, ids, labels in rows:
        width = len(labels)
        np.testing.assert_array_equal(labels, token_labels[index][:width])
        np.testing.assert_array_equal(ids, features["input_ids"][index][:width])
        assert token_labels[index][width:].max(initial=-100) == -100  # only padding cut


def test_features_only_dataset(encoder):
    batches = list(make_dataset(texts_of(10), encoder=encoder, batch_size=4))
    assert sum(b["input_ids"].shape[0] for b in batches) == 10


def test_encode_texts_matches_encoder(encoder):
    texts = texts_of(25)
    out = encode_texts(encoder, texts, batch_size=7, progress=False)
    expected = encoder(texts)
    for key in out:
        np.testing.assert_array_equal(out[key], expected[key].numpy())


def test_validation_split_matches_keras():
    train, val = validation_split(1000, 0.2)
    assert len(train) == 800 and val[0] == 800 and val[-1] == 999
    with pytest.raises(ValueError, match="fraction"):
        validation_split(10, 1.0)


def test_bucketing_does_not_change_evaluation(encoder):
    # Same model, same examples: fixed-length and bucketed batches give the same loss
    # (padding is masked out), so bucketing changes speed, not results.
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16, max_sequence_length=64)
    model = BertClassifier(backbone, num_classes=2)
    model.compile()
    texts = texts_of(64)
    labels = np.array([t.count("good") > t.count("bad") for t in texts], "float32")
    history = model.fit(make_dataset(texts, labels, encoder=encoder, batch_size=16,
                                     shuffle=True, seed=0), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    fixed = model.evaluate(make_dataset(texts, labels, encoder=encoder, batch_size=64,
                                        bucket_lengths=None), verbose=0)
    bucketed = model.evaluate(make_dataset(texts, labels, encoder=encoder, batch_size=64),
                              verbose=0)
    np.testing.assert_allclose(bucketed, fixed, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=["good", ""], y=[1, 0]), "empty"),
    (dict(x=["good", None], y=[1, 0]), "item 1 is NoneType"),
    (dict(x="good movie", y=[1]), "single string"),
    (dict(x=["good", "bad"], y=[1]), "2 examples but 1 labels"),
    (dict(x=["good"], y=["pos"]), "numeric"),
    (dict(x=["good"], y=[1], bucket_lengths="sometimes"), "bucket_lengths"),
    (dict(x=["good"], y=[1], bucket_lengths=[1]), ">= 2"),
    (dict(x=["good"], y=[1], batch_size=0), "batch_size"),
    (dict(x=["good"], y=[1], num_shards=2, shard_index=2), "shard_index"),
    (dict(x={"input_ids": np.zeros((2, 4))}, y=[1, 0]), "missing"),
])
def test_errors(encoder, kwargs, message):
    kwargs.setdefault("encoder", encoder)
    with pytest.raises(ValueError, match=message):
        make_dataset(**kwargs)


def test_raw_text_needs_an_encoder():
    with pytest.raises(ValueError, match="needs `encoder=FeatureEncoder"):
        make_dataset(["good"], [1])


def test_pre_encoded_dataset_knows_its_number_of_batches(encoder):
    features = encode_texts(encoder, texts_of(100))
    for drop in (False, True):
        ds = make_dataset(features, np.zeros(100), batch_size=8, drop_remainder=drop,
                          num_shards=2, shard_index=1)
        assert int(ds.cardinality()) == sum(1 for _ in ds)


@pytest.mark.parametrize("pairs", [False, True])
def test_raw_text_dataset_knows_its_number_of_batches(encoder, pairs):
    # Bucketing hides the count from tf.data; make_dataset counts the batches itself, so
    # Keras' first epoch needs no "ran out of data" interruption. Long and short texts put
    # batches in several buckets.
    texts = texts_of(100, longest=60)
    x = (texts, texts_of(100, seed=1, longest=20)) if pairs else texts
    for drop, shards, shuffle in ((False, 1, True), (True, 1, False), (False, 3, True)):
        ds = make_dataset(x, np.zeros(100), encoder=encoder, batch_size=8, shuffle=shuffle,
                          seed=0, drop_remainder=drop, num_shards=shards,
                          shard_index=shards - 1)
        shapes = {tuple(f["input_ids"].shape)[1] for f, _ in ds}
        assert len(shapes) > 1
        assert int(ds.cardinality()) == sum(1 for _ in ds) > 0


def test_siamese_dataset_knows_its_number_of_batches(encoder):
    from bertcls import make_siamese_dataset
    texts = (texts_of(50, longest=60), texts_of(50, seed=1, longest=10))
    for drop in (False, True):
        ds = make_siamese_dataset(texts, np.zeros(50, "float32"), encoder=encoder,
                                  batch_size=4, drop_remainder=drop)
        assert int(ds.cardinality()) == sum(1 for _ in ds) > 0
