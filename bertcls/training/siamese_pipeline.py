"""`make_siamese_dataset`: pairs (or triplets) of texts for a bi-encoder, each side encoded and
padded on its own, batches grouped by length."""

import numpy as np
import tensorflow as tf

from bertcls.text.feature_encoder import FeatureEncoder
from bertcls.text.inputs import text_columns
from bertcls.training.pipeline import (FEATURE_NAMES, _bucket_batches, _buckets, _check_labels,
                                       _encoder_with, _token_counts)

SIDES = ("a", "b", "negative")


def make_siamese_dataset(texts, labels=None, encoder=None, batch_size=32, shuffle=False,
                         seed=None, bucket_lengths="auto", drop_remainder=False, num_shards=1,
                         shard_index=0, shuffle_buffer_size=None, encode_batch_size=1024,
                         repeat=False):
    """A batched `tf.data.Dataset` for `SiameseModel`: `({"a": features, "b": features}, labels)`.

    Unlike `make_dataset((texts_a, texts_b), ...)`, which builds one `[CLS] a [SEP] b [SEP]`
    sequence for a cross-encoder, each side here is its own `[CLS] text [SEP]` sequence,
    encoded in the graph and padded to its own width: a batch of short questions and long
    passages pads the questions to the questions' bucket. Batches are grouped by the longer
    side's bucket (powers of two from 16 up to `max_seq_len` by default), and each side is
    padded up to the smallest bucket length that fits it, so XLA sees few shapes.

    Args:
        texts: a tuple `(texts_a, texts_b)` of equally long lists of strings, or
            `(anchors, positives, negatives)` (hard negatives, for `objective="ranking"`).
        labels: one label per pair (a similarity, a class id), or None (ranking).
        encoder: the `FeatureEncoder` (its `max_seq_len` truncates each side).
        batch_size: pairs per batch.
        shuffle: shuffle pairs (before grouping by length) every epoch.
        seed: shuffling seed; the same seed gives the same order.
        bucket_lengths: `"auto"`, a list of lengths, or None for fixed `max_seq_len` padding.
        drop_remainder: drop incomplete batches (of each bucket): static batch sizes.
        num_shards, shard_index: keep every `num_shards`-th pair starting at `shard_index`
            (per-process input for multi-host training), before shuffling.
        shuffle_buffer_size: defaults to the number of pairs (a full shuffle).
        encode_batch_size: strings per encoder call inside the pipeline.
        repeat: repeat forever (for `steps_per_epoch`-driven training).

    Returns:
        A `tf.data.Dataset` of `(inputs, labels)` or `inputs`, where `inputs` maps `a`, `b`
        (and `negative`) to dicts of int32 `(batch, length)` tensors.

    Example:

    >>> from bertcls import FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=64)
    >>> long = " ".join(["good"] * 20)
    >>> ds = make_siamese_dataset((["good", "bad movie"], [long, long]), [0.5, 0.1],
    ...                           encoder=encoder, batch_size=2)
    >>> [(tuple(x["a"]["input_ids"].shape), tuple(x["b"]["input_ids"].shape)) for x, _ in ds]
    [((2, 16), (2, 32))]
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, received {batch_size!r}.")
    if not (isinstance(num_shards, int) and num_shards >= 1
            and isinstance(shard_index, int) and 0 <= shard_index < num_shards):
        raise ValueError(
            f"Need 0 <= shard_index < num_shards, received shard_index={shard_index!r}, "
            f"num_shards={num_shards!r}.")
    if not isinstance(encoder, FeatureEncoder):
        raise ValueError("make_siamese_dataset needs `encoder=FeatureEncoder(...)`, received "
                         f"{type(encoder).__name__}.")
    if not isinstance(texts, tuple) or len(texts) not in (2, 3):
        raise ValueError(
            "`texts` must be a tuple (texts_a, texts_b) or (anchors, positives, negatives), "
            f"received {type(texts).__name__}"
            + (f" of {len(texts)} items." if isinstance(texts, tuple) else "."))
    sides = SIDES[:len(texts)]
    columns = {side: text_columns(t, f"texts[{i}]", allow_empty=False)[0][0]
               for i, (side, t) in enumerate(zip(sides, texts))}
    n = len(columns["a"])
    for side in sides:
        if len(columns[side]) != n:
            raise ValueError(f"The sides differ in length: {n} and {len(columns[side])} texts.")
    if labels is not None:
        labels = _check_labels(labels, n)
    lengths = _buckets(bucket_lengths, encoder.max_seq_len)
    encode = _encoder_with(encoder, "max_length" if lengths is None else "longest")
    pad_token_id = encoder.pad_token_id

    ds = tf.data.Dataset.from_tensor_slices(columns if labels is None else (columns, labels))
    if num_shards > 1:
        ds = ds.shard(num_shards, shard_index)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer_size or max(n, 1), seed=seed,
                        reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def encode_sides(strings, *label):
        features = {}
        for side in sides:
            out = encode(strings[side])
            features[side] = {k: out[k] for k in FEATURE_NAMES}
        return (features, *label) if label else features

    if lengths is None:  # fixed length: every side padded to max_seq_len
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.map(encode_sides, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE)
    ds = ds.batch(encode_batch_size).map(encode_sides,
                                         num_parallel_calls=tf.data.AUTOTUNE).unbatch()

    def trim(features, *label):
        # Cut each side to its own length; batching pads it back to the batch's longest.
        trimmed = {}
        for side, side_features in features.items():
            n_tokens = tf.reduce_sum(tf.cast(side_features["attention_mask"], tf.int32))
            trimmed[side] = {k: v[:n_tokens] for k, v in side_features.items()}
        return (trimmed, *label) if label else trimmed

    def longest_side(features, *_):
        return tf.reduce_max([tf.shape(features[side]["input_ids"])[0] for side in sides])

    bucket_tensor = tf.constant(lengths, tf.int32)

    def to_bucket_width(features, *label):
        # Each side padded up to the smallest bucket length that holds its longest row.
        padded = {}
        for side, side_features in features.items():
            width = tf.shape(side_features["input_ids"])[1]
            target = tf.gather(bucket_tensor, tf.searchsorted(bucket_tensor, [width])[0])
            padded[side] = {
                k: tf.pad(v, [[0, 0], [0, target - width]],
                          constant_values=pad_token_id if k == "input_ids" else 0)
                for k, v in side_features.items()}
        return (padded, *label) if label else padded

    padding = {side: {k: tf.constant(pad_token_id if k == "input_ids" else 0, tf.int32)
                      for k in FEATURE_NAMES} for side in sides}
    ds = ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.bucket_by_sequence_length(
        longest_side,
        # Bucket i takes longest sides of 1..lengths[i] tokens (see make_dataset).
        bucket_boundaries=[length + 1 for length in lengths],
        bucket_batch_sizes=[batch_size] * (len(lengths) + 1),
        padded_shapes=None,
        padding_values=padding if labels is None else (
            padding, tf.constant(0, tf.as_dtype(labels.dtype))),
        pad_to_bucket_boundary=False,
        drop_remainder=drop_remainder)
    ds = ds.map(to_bucket_width, num_parallel_calls=tf.data.AUTOTUNE)
    if not repeat:
        # The number of batches, for Keras (see make_dataset): bucketing hides it.
        longest = np.max([_token_counts(encode, [columns[side]], False, shard_index,
                                        num_shards, encode_batch_size) for side in sides],
                         axis=0)
        ds = ds.apply(tf.data.experimental.assert_cardinality(
            _bucket_batches(longest, lengths, batch_size, drop_remainder)))
    return ds.prefetch(tf.data.AUTOTUNE)
