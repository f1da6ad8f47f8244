"""Text prediction shared by the task models: length-sorted batches of one width, the cached
longest-padding encoder, and forward passes traced once and reused across calls."""

import keras
import numpy as np

from bertcls.tasks.base import FEATURE_NAMES
from bertcls.text.inputs import text_columns

BUCKET = 16  # off TensorFlow, batch lengths round up to a multiple of this: few shapes


def width_multiple():
    """What batch widths are rounded up to. On TensorFlow the forward pass is one
    `tf.function` with a `(None, None)` signature, traced once for every shape, so a batch is
    cut to its own longest row (1): no padded token is computed (15-25% less CPU than rounding
    to 16 when embedding KorSTS's test sentences, in one A/B run). Other backends compile
    once per shape, so there lengths round up to a multiple of `BUCKET` (16)."""
    return 1 if keras.backend.backend() == "tensorflow" else BUCKET


def width_batches(lengths, batch_size, max_width):
    """Cut rows sorted by length into batches of one width: yields `(begin, end, width)` for
    up to `batch_size` consecutive rows whose lengths, rounded up to a multiple of
    `width_multiple()` and capped at `max_width`, are all `width`. A batch never spans two
    widths: a large `batch_size` would otherwise pad many short rows to the width of the
    longest row of a mixed batch."""
    multiple = width_multiple()
    widths = np.minimum(-(-np.asarray(lengths, np.int64) // multiple) * multiple, max_width)
    begin = 0
    while begin < len(widths):
        end = begin
        while end < len(widths) and end - begin < batch_size and widths[end] == widths[begin]:
            end += 1
        yield begin, end, int(widths[begin])
        begin = end


def sorted_batches(encoder, texts, batch_size, chunk_size=4096):
    """Encode `texts` (a list of strings, or a tuple `(texts_a, texts_b)` of sentence pairs)
    and yield `(indices, features, offsets)` batches sorted by (pair) length.

    Each batch holds up to `batch_size` rows of one width: lengths rounded up to a multiple of
    `width_multiple()` (the exact length on TensorFlow, 16 elsewhere, so a handful of shapes
    is ever compiled; at most the encoder's `max_seq_len`), and no row is padded past its own
    width; `indices` give each row's position in `texts`.
    """
    columns, pair = text_columns(texts)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, received {batch_size!r}.")
    rows = []  # (length, index, ids, mask, types, offsets)
    for begin in range(0, len(columns[0]), chunk_size):
        chunk = [c[begin:begin + chunk_size] for c in columns]
        out = {k: np.asarray(v) for k, v in encoder(tuple(chunk) if pair else chunk[0]).items()}
        lengths = out["attention_mask"].sum(axis=1)
        for j, n in enumerate(lengths):
            rows.append((int(n), begin + j, out["input_ids"][j, :n], out["token_type_ids"][j, :n],
                         out["offsets"][j, :n] if "offsets" in out else None))
    rows.sort(key=lambda r: r[0])
    pad_id = encoder.pad_token_id
    for begin, end, width in width_batches([r[0] for r in rows], batch_size,
                                           encoder.max_seq_len):
        batch = rows[begin:end]
        ids = np.full((len(batch), width), pad_id, np.int32)
        types = np.zeros((len(batch), width), np.int32)
        mask = np.zeros((len(batch), width), np.int32)
        offsets = np.zeros((len(batch), width, 2), np.int32)
        for j, (n, _, i, t, o) in enumerate(batch):
            ids[j, :n], types[j, :n], mask[j, :n] = i, t, 1
            if o is not None:
                offsets[j, :n] = o
        features = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        yield [r[1] for r in batch], features, offsets


def count_texts(texts):
    """How many examples `texts` holds: strings, or pairs in a tuple `(texts_a, texts_b)`
    (checked: the first thing `predict_texts` does)."""
    return len(text_columns(texts)[0][0])


def text_encoder(model, offsets=False):
    """The model's encoder with `padding="longest"` (cached), for the text predict helpers."""
    if model.encoder is None:
        raise ValueError(
            f"{type(model).__name__} has no encoder; pass `encoder=FeatureEncoder(...)` to the "
            "constructor (from_preset does) to predict from text.")
    key = "_text_encoder_offsets" if offsets else "_text_encoder"
    if getattr(model, key, None) is None:
        config = dict(model.encoder.get_config(), padding="longest", return_offsets=offsets)
        object.__setattr__(model, key, type(model.encoder).from_config(config))
    return getattr(model, key)


def predict_features(model, features):
    """One compiled forward pass, reused across calls, without `model.predict`'s per-call
    data-adapter and callback setup.

    On TensorFlow a `tf.function` with a `(None, None)` input signature is traced once for
    every batch size and length; on other backends Keras' `predict_on_batch` (jitted once
    per shape; `sorted_batches` keeps shapes few).
    """
    features = {k: np.asarray(features[k], np.int32) for k in FEATURE_NAMES}
    if keras.backend.backend() != "tensorflow":
        return np.asarray(model.predict_on_batch(features))
    fn = model.__dict__.get("_bertcls_predict_fn")
    if fn is None:
        import tensorflow as tf
        spec = {k: tf.TensorSpec([None, None], tf.int32, name=k) for k in FEATURE_NAMES}
        fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        object.__setattr__(model, "_bertcls_predict_fn", fn)
    return np.asarray(fn(features))


def predict_strings(model, texts):
    """Strings to model outputs in one compiled call: on TensorFlow the encoder and the model
    run in a single `tf.function` (string input signature, traced once; one for single texts,
    one for pairs); elsewhere the encoder runs eagerly and the model through
    `predict_features`. `texts` is a list of strings or a tuple `(texts_a, texts_b)`."""
    encoder = text_encoder(model)
    columns, pair = text_columns(texts)
    inputs = tuple(columns) if pair else columns[0]
    if keras.backend.backend() != "tensorflow":
        features = {k: np.asarray(v) for k, v in encoder(inputs).items()}
        return predict_features(model, features)
    key = "_bertcls_pairs_fn" if pair else "_bertcls_strings_fn"
    fn = model.__dict__.get(key)
    if fn is None:
        import tensorflow as tf

        def run(*strings):
            features = encoder(strings if pair else strings[0])
            return model({k: features[k] for k in FEATURE_NAMES}, training=False)

        fn = tf.function(run, input_signature=[tf.TensorSpec([None], tf.string)] * len(columns))
        object.__setattr__(model, key, fn)
    return np.asarray(fn(*columns))
