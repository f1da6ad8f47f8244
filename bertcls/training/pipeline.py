"""tf.data input pipelines: encode in the graph, bucket by length, shard per process.

The tutorial tokenised every review in a Python loop and padded it to 128 tokens. NSMC reviews
are 16 tokens long on average (p99 57), so most of that work was padding. `make_dataset` builds
the pipeline the way TPUs and `model.fit` want it instead:

    texts (+ labels) -> shard -> shuffle(seed) -> encode in the graph -> bucket -> prefetch

Batches are grouped by length into a small fixed set of bucket lengths (16, 32, 64, ...,
`max_seq_len` by default): few distinct shapes, so XLA compiles a bounded number of programs,
and little padding. `bucket_lengths=None` reproduces the tutorial's fixed `max_seq_len`.
The pipeline serves either Keras backend: under JAX, `model.fit` iterates it as numpy.
"""

import numpy as np
import tensorflow as tf

from bertcls.text.feature_encoder import FeatureEncoder  # noqa: F401 (doctest)
from bertcls.text.text_encoder import TextEncoder
from bertcls.text.inputs import text_columns

FEATURE_NAMES = ("input_ids", "attention_mask", "token_type_ids")
IGNORE_INDEX = -100  # padding value of per-token labels (Hugging Face's ignore index)
MIN_BUCKET = 16


def default_bucket_lengths(max_seq_len, smallest=MIN_BUCKET):
    """Powers of two from `smallest` up to `max_seq_len` (always included).

    >>> default_bucket_lengths(128)
    [16, 32, 64, 128]
    >>> default_bucket_lengths(100)
    [16, 32, 64, 100]
    """
    lengths = []
    length = smallest
    while length < max_seq_len:
        lengths.append(length)
        length *= 2
    return lengths + [max_seq_len]


def validation_split(n, fraction=0.2):
    """Indices `(train, validation)` splitting `n` examples as Keras' `validation_split` does:
    the last `fraction` of the examples (before any shuffling) are held out.

    Args:
        n: the number of examples, or the examples themselves: a list of texts, a tuple
            `(texts_a, texts_b)` of sentence pairs, or a features dict.
        fraction: the part held out for validation, in `[0, 1)`.

    >>> train, val = validation_split(10, 0.2)
    >>> train.tolist(), val.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    >>> validation_split((["a", "b", "c", "d"], ["e", "f", "g", "h"]), 0.25)[1].tolist()
    [3]
    """
    n = _count(n)
    if not 0 <= fraction < 1:
        raise ValueError(f"`fraction` must be in [0, 1), received {fraction!r}.")
    split = int(n * (1 - fraction))  # Keras rounds the training part down the same way
    return np.arange(split), np.arange(split, n)


def _count(x):
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, dict):
        return len(x["input_ids"])
    if isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], str):
        return len(text_columns(x)[0][0])
    if hasattr(x, "__len__") and not isinstance(x, str):
        return len(x)
    raise ValueError(f"validation_split takes a number of examples or the examples, received "
                     f"{type(x).__name__}.")


def _check_labels(labels, n):
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biuf":
        hint = ""
        if labels.dtype.kind in "OUS":
            hint = (" Map label names to class ids first: give the classifier `labels=[...]` "
                    "and pass `model.label_ids(names)` (docs/pairs.md).")
        raise ValueError(f"Labels must be numeric, received dtype {labels.dtype}.{hint}")
    if len(labels) != n:
        raise ValueError(f"Got {n} examples but {len(labels)} labels; they must match.")
    return labels


def encode_texts(encoder, texts, batch_size=1024, progress=False):
    """Encode a list of strings into numpy arrays, in large batches (optionally with a
    progress bar).

    Args:
        encoder: a `FeatureEncoder`.
        texts: list of strings, or a tuple `(texts_a, texts_b)` of two equally long lists
            for sentence pairs.
        batch_size: strings per encoder call.
        progress: show a tqdm progress bar.

    Returns:
        dict of int32 arrays `(n, length)`, as the encoder returns them (padded to
        `max_seq_len` with `padding="max_length"`; to the longest text with `"longest"`).
    """
    columns, pair = text_columns(texts, allow_empty=False)
    n = len(columns[0])
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc="encoding", unit="batch")
    parts = []
    for start in starts:
        chunk = [c[start:start + batch_size] for c in columns]
        parts.append({k: v.numpy() for k, v in encoder(tuple(chunk) if pair else chunk[0])
                      .items()})
    if not parts:
        return {k: np.zeros((0, encoder.max_seq_len), np.int32) for k in FEATURE_NAMES}
    width = max(p["input_ids"].shape[1] for p in parts)
    pads = {k: (encoder.pad_token_id if k == "input_ids" else 0) for k in parts[0]}
    return {k: np.concatenate([_pad_to(p[k], width, pads[k]) for p in parts]) for k in parts[0]}


def _pad_to(array, width, value):
    extra = width - array.shape[1]
    if not extra:
        return array
    widths = [(0, 0), (0, extra)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, constant_values=value)


def make_dataset(x, y=None, encoder=None, batch_size=32, shuffle=False, seed=None,
                 bucket_lengths="auto", drop_remainder=False, num_shards=1, shard_index=0,
                 shuffle_buffer_size=None, encode_batch_size=1024, pad_token_id=None,
                 repeat=False):
    """A batched `tf.data.Dataset` of `(features, labels)` (or `features`) for `model.fit`,
    `evaluate` and `predict`.

    Two kinds of input:

    - raw text: `x` is a list of strings, or sentence pairs as a tuple `(texts_a, texts_b)`
      of two equally long lists (encoded `[CLS] a [SEP] b [SEP]`, cut longest-first to
      `max_seq_len` as Hugging Face does, bucketed on the pair's length); `encoder` is a
      `FeatureEncoder`. Texts are tokenised inside the pipeline (in batches of
      `encode_batch_size`, on the fly every epoch). `y`: one label per text or pair, any
      shape after the first axis (`(n,)`, `(n, 1)`, `(n, num_classes)`), floats for
      regression.
    - pre-encoded features: `x` is a dict of `(n, length)` arrays as `encode_texts` or
      `encode_tagged` return them. `y` may also be per-token labels `(n, length)`
      (the tagger's, -100 where ignored), which are cut and padded with the features.

    Padding is per batch: with bucketing each batch is padded to the smallest bucket length
    that fits its longest member (padding id `[PAD]`, mask 0, per-token labels -100), so
    a batch of short reviews costs 16 tokens per row, not 128.

    Args:
        x: texts or a features dict (see above).
        y: labels, or None for a features-only dataset.
        encoder: the `FeatureEncoder` (raw text only; its `max_seq_len` is the longest
            length, its `padding` is ignored).
        batch_size: examples per batch (per process; the global batch under a strategy).
        shuffle: shuffle examples (before bucketing) every epoch.
        seed: shuffling seed; the same seed gives the same order.
        bucket_lengths: `"auto"` (powers of two from 16 up to `max_seq_len`), a list of
            lengths, or None for fixed `max_seq_len` padding (the tutorial).
        drop_remainder: drop the last incomplete batch (of each bucket): static batch
            shapes, as TPUs need.
        num_shards, shard_index: keep every `num_shards`-th example starting at
            `shard_index` (per-process input for multi-host training), before shuffling.
        shuffle_buffer_size: defaults to the number of examples (a full shuffle).
        encode_batch_size: strings per encoder call inside the pipeline.
        pad_token_id: `[PAD]` id for pre-encoded features (default: the encoder's, or 0).
        repeat: repeat forever (for `steps_per_epoch`-driven training).

    Returns:
        A `tf.data.Dataset` with elements `(features, labels)` or `features`, where
        `features` is a dict of int32 `(batch, length)` tensors.

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=64)
    >>> ds = make_dataset(["good movie", "bad", "good good good bad movie"], [1, 0, 1],
    ...                   encoder=encoder, batch_size=2)
    >>> [tuple(f["input_ids"].shape) for f, _ in ds]
    [(2, 16), (1, 16)]
    >>> ds = make_dataset(["good movie"], [1], encoder=encoder, bucket_lengths=None)
    >>> [tuple(f["input_ids"].shape) for f, _ in ds]
    [(1, 64)]
    >>> pairs = (["good movie", "bad"], ["good", "bad movie"])    # (texts_a, texts_b)
    >>> features, scores = next(iter(make_dataset(pairs, [4.5, 1.0], encoder=encoder)))
    >>> features["token_type_ids"].numpy()[0, :7].tolist(), scores.numpy().tolist()
    ([0, 0, 0, 0, 1, 1, 0], [4.5, 1.0])
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, received {batch_size!r}.")
    if not (isinstance(num_shards, int) and num_shards >= 1
            and isinstance(shard_index, int) and 0 <= shard_index < num_shards):
        raise ValueError(
            f"Need 0 <= shard_index < num_shards, received shard_index={shard_index!r}, "
            f"num_shards={num_shards!r}.")

    # === Source ===
    if isinstance(x, dict):
        features = _check_features(x)
        n = len(features["input_ids"])
        max_len = features["input_ids"].shape[1]
        if pad_token_id is None:
            pad_token_id = encoder.pad_token_id if encoder is not None else 0
        source = features
        encode = None
    else:
        if not isinstance(encoder, TextEncoder):
            raise ValueError(
                "make_dataset on raw text needs `encoder=FeatureEncoder(...)` (or "
                "SentencePieceEncoder), received "
                f"{type(encoder).__name__}.")
        columns, pair = text_columns(x, "x", allow_empty=False)
        n = len(columns[0])
        max_len = encoder.max_seq_len
        pad_token_id = encoder.pad_token_id
        # Pairs travel as a dict: a tuple would reach `map` as two positional arguments.
        source = {"text_a": columns[0], "text_b": columns[1]} if pair else columns[0]
        encode = _encoder_with(encoder, "max_length" if bucket_lengths is None else "longest")
    labels = None if y is None else _check_labels(y, n)
    token_labels = labels is not None and isinstance(x, dict) and labels.ndim == 2 and (
        labels.shape[1] == max_len)
    lengths = _buckets(bucket_lengths, max_len)

    ds = tf.data.Dataset.from_tensor_slices(source if labels is None else (source, labels))
    if num_shards > 1:
        ds = ds.shard(num_shards, shard_index)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer_size or max(n, 1), seed=seed,
                        reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    # === Encode (raw text) ===
    if encode is not None:
        def encode_batch(texts, *label):
            if isinstance(texts, dict):
                texts = (texts["text_a"], texts["text_b"])
            features = encode(texts)
            features = {k: features[k] for k in FEATURE_NAMES}
            return (features, *label) if label else features

        if lengths is None:  # fixed length: encode whole batches, nothing to regroup
            ds = ds.batch(batch_size, drop_remainder=drop_remainder)
            ds = ds.map(encode_batch, num_parallel_calls=tf.data.AUTOTUNE)
            return ds.prefetch(tf.data.AUTOTUNE)
        ds = ds.batch(encode_batch_size).map(encode_batch,
                                             num_parallel_calls=tf.data.AUTOTUNE).unbatch()

    # === Batch ===
    if lengths is None:
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    def trim(features, *label):
        # Cut each example to its own length; the bucket pads it back to the batch's.
        n_tokens = tf.reduce_sum(tf.cast(features["attention_mask"], tf.int32))
        features = {k: v[:n_tokens] for k, v in features.items()}
        if token_labels:
            label = (label[0][:n_tokens],)
        return (features, *label) if label else features

    def length_of(features, *_):
        return tf.shape(features["input_ids"])[0]

    padding = {k: tf.constant(pad_token_id if k == "input_ids" else 0, tf.int32)
               for k in FEATURE_NAMES}
    label_padding = None
    if labels is not None:
        label_padding = tf.constant(IGNORE_INDEX if token_labels else 0,
                                    tf.as_dtype(labels.dtype))
    ds = ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.bucket_by_sequence_length(
        length_of,
        # Bucket i takes lengths in [b_i, b_{i+1}) and pads to b_{i+1} - 1: shift by one so
        # that a bucket of length L holds examples of 1..L tokens and pads to exactly L.
        bucket_boundaries=[length + 1 for length in lengths],
        bucket_batch_sizes=[batch_size] * (len(lengths) + 1),
        padded_shapes=None,
        padding_values=padding if labels is None else (padding, label_padding),
        pad_to_bucket_boundary=True,
        drop_remainder=drop_remainder)
    if not repeat:
        # Bucketing hides the number of batches from tf.data. Each bucket emits
        # ceil(its examples / batch_size) batches whatever the order, so the count follows
        # from the token lengths: tell Keras, so the first epoch has a progress bar and no
        # "ran out of data" warning. Raw text is tokenised once more for this (about 1 s per
        # 20,000 NSMC reviews on two busy cores).
        if encode is None:
            n_tokens = source["attention_mask"][shard_index::num_shards].sum(axis=1)
        else:
            n_tokens = _token_counts(encode, columns, pair, shard_index, num_shards,
                                     encode_batch_size)
        ds = ds.apply(tf.data.experimental.assert_cardinality(
            _bucket_batches(n_tokens, lengths, batch_size, drop_remainder)))
    return ds.prefetch(tf.data.AUTOTUNE)


def _token_counts(encode, columns, pair, shard_index, num_shards, chunk):
    columns = [list(column)[shard_index::num_shards] for column in columns]
    counts = [np.zeros(0, np.int64)]
    for start in range(0, len(columns[0]), chunk):
        part = [column[start:start + chunk] for column in columns]
        mask = encode(tuple(part) if pair else part[0])["attention_mask"]
        counts.append(np.asarray(mask).sum(axis=1))
    return np.concatenate(counts)


def _bucket_batches(n_tokens, lengths, batch_size, drop_remainder):
    """The number of batches `bucket_by_sequence_length` makes of examples of `n_tokens`
    tokens with bucket `lengths`.

    >>> _bucket_batches([3, 5, 20, 20, 20], [16, 32], batch_size=2, drop_remainder=False)
    3
    >>> _bucket_batches([3, 5, 20, 20, 20], [16, 32], batch_size=2, drop_remainder=True)
    2
    """
    counts = np.bincount(np.searchsorted(lengths, n_tokens), minlength=len(lengths))
    batches = counts // batch_size if drop_remainder else -(-counts // batch_size)
    return int(batches.sum())


def _buckets(bucket_lengths, max_len):
    if bucket_lengths is None:
        return None
    if isinstance(bucket_lengths, str):
        if bucket_lengths != "auto":
            raise ValueError(f"`bucket_lengths` must be 'auto', a list of lengths or None, "
                             f"received {bucket_lengths!r}.")
        return default_bucket_lengths(max_len)
    lengths = sorted(set(int(length) for length in bucket_lengths))
    if not lengths or lengths[0] < 2:
        raise ValueError(f"Bucket lengths must be integers >= 2, received {bucket_lengths!r}.")
    if lengths[-1] < max_len:
        lengths.append(max_len)  # every example must fit a bucket
    return [length for length in lengths if length <= max_len]


def _check_features(x):
    missing = [k for k in FEATURE_NAMES if k not in x]
    if missing:
        raise ValueError(f"A features dict needs {list(FEATURE_NAMES)}; missing {missing}.")
    features = {k: np.asarray(x[k]) for k in FEATURE_NAMES}
    shapes = {k: v.shape for k, v in features.items()}
    if len(set(shapes.values())) != 1 or features["input_ids"].ndim != 2:
        raise ValueError(f"Features must be (n, length) arrays of one shape, received {shapes}.")
    return {k: v.astype(np.int32) for k, v in features.items()}


def _encoder_with(encoder, padding):
    if encoder.padding == padding and not encoder.return_offsets:
        return encoder
    config = dict(encoder.get_config(), padding=padding, return_offsets=False)
    return type(encoder).from_config(config)
