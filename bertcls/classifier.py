"""`BertClassifier`: sentence classification (binary, multi-class, multi-label) on a backbone."""

import keras
import numpy as np

from bertcls.heads import POOLINGS, BertHead

FEATURE_NAMES = ("input_ids", "attention_mask", "token_type_ids")
BUCKET = 16  # batch lengths are rounded up to a multiple of this: few distinct shapes


def feature_inputs():
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}


def sorted_batches(encoder, texts, batch_size, chunk_size=4096):
    """Encode `texts` and yield `(indices, features, offsets)` batches sorted by length.

    Each batch holds up to `batch_size` rows of one width: lengths rounded up to a multiple of
    `BUCKET` (at most the encoder's `max_seq_len`), so a handful of shapes is ever compiled
    and no row is padded past its own width; `indices` give each row's position in `texts`.
    """
    if isinstance(texts, str):
        raise ValueError("predict_texts takes a list of strings, received a single string; "
                         "wrap it in a list or use predict_text.")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        bad = next(type(t).__name__ for t in texts if not isinstance(t, str))
        raise ValueError(f"predict_texts takes a list of strings, received an item of type {bad}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, received {batch_size!r}.")
    rows = []  # (length, index, ids, mask, types, offsets)
    for begin in range(0, len(texts), chunk_size):
        out = {k: np.asarray(v) for k, v in encoder(texts[begin:begin + chunk_size]).items()}
        lengths = out["attention_mask"].sum(axis=1)
        for j, n in enumerate(lengths):
            rows.append((int(n), begin + j, out["input_ids"][j, :n], out["token_type_ids"][j, :n],
                         out["offsets"][j, :n] if "offsets" in out else None))
    rows.sort(key=lambda r: r[0])
    pad_id = encoder.pad_token_id

    def width_of(n):
        return min(-(-n // BUCKET) * BUCKET, encoder.max_seq_len)

    # A batch never spans two widths: a large `batch_size` would otherwise pad many short
    # rows to the width of the longest row of a mixed batch.
    batches, begin = [], 0
    while begin < len(rows):
        width = width_of(rows[begin][0])
        end = begin
        while end < len(rows) and end - begin < batch_size and width_of(rows[end][0]) == width:
            end += 1
        batches.append((width, rows[begin:end]))
        begin = end
    for width, batch in batches:
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
    run in a single `tf.function` (string input signature, traced once); elsewhere the
    encoder runs eagerly and the model through `predict_features`."""
    encoder = text_encoder(model)
    if keras.backend.backend() != "tensorflow":
        features = {k: np.asarray(v) for k, v in encoder(texts).items()}
        return predict_features(model, features)
    fn = model.__dict__.get("_bertcls_strings_fn")
    if fn is None:
        import tensorflow as tf

        def run(strings):
            features = encoder(strings)
            return model({k: features[k] for k in FEATURE_NAMES}, training=False)

        fn = tf.function(run, input_signature=[tf.TensorSpec([None], tf.string)])
        object.__setattr__(model, "_bertcls_strings_fn", fn)
    return np.asarray(fn(texts))


class Task(keras.Model):
    """What the task models share: label checks in fit/evaluate, compile on load,
    deserializing the layers in their config."""

    def _wire(self, backbone, head, encoder, **kwargs):
        """Build the functional graph, the encoder's dict -> backbone -> head (which also
        receives `attention_mask`), and return the head's output."""
        self.backbone = backbone
        self.head = head
        self.encoder = encoder
        inputs = feature_inputs()
        features = dict(backbone(inputs))
        features["attention_mask"] = inputs["attention_mask"]
        outputs = head(features)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        return outputs

    def fit(self, x=None, y=None, **kwargs):
        check_data(self, x, y)
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf_dataset_type()):
            check_data(self, validation, None)
        elif isinstance(validation, (tuple, list)) and len(validation) >= 2:
            check_data(self, validation[0], validation[1])
        return super().fit(x, y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        check_data(self, x, y)
        return super().evaluate(x, y, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compile on load when compile() is overridden; ours takes the same args.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "head", "encoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _check_values(y, low, high, integral, what):
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, received dtype {y.dtype}.")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{what} contain NaN or infinite values.")
        if integral and not np.all(y == np.round(y)):
            raise ValueError(f"{what} must be whole numbers (class ids), received fractions.")
    if y.size and (y.min() < low or y.max() > high):
        raise ValueError(
            f"{what} must lie in [{low}, {high}], received values from {y.min()} to {y.max()}.")


@keras.saving.register_keras_serializable(package="bertcls")
class BertClassifier(Task):
    """A sentence classifier: a `BertBackbone` and a many-to-one `BertHead`.

    Three tasks, picked by `num_classes` and `multi_label`:

    - binary (`num_classes=2`): one sigmoid unit, `BinaryCrossentropy`, accuracy; exactly
      the tutorial's model. Labels: 0/1, shape `(batch,)` or `(batch, 1)`.
    - multi-class (`num_classes > 2`): softmax, sparse categorical cross-entropy. Labels:
      class ids in `[0, num_classes)`, shape `(batch,)` or `(batch, 1)`.
    - multi-label (`multi_label=True`): one sigmoid per class, binary cross-entropy.
      Labels: 0/1 (or probabilities), shape `(batch, num_classes)`.

    `fit` (training and `validation_data`) and `evaluate` check labels before running:
    numpy/list labels in full, a `tf.data.Dataset`'s label dtype and its first batch. Wrong shape,
    non-numeric dtype, NaN, fractions for class ids and out-of-range values raise
    `ValueError`. Labels of generators and later dataset batches are not checked.

    Args:
        backbone: a `BertBackbone` (or any Keras model mapping the three int inputs to
            `sequence_output` and `pooled_output`).
        num_classes: number of classes (2 for binary).
        multi_label: independent sigmoid per class.
        pooling: `"pooled"` (tutorial), `"cls"` or `"mean"`; see `BertHead`.
        dropout: dropout before the dense layer (0 in the tutorial).
        head: a layer replacing the default `BertHead`; it receives the backbone's output
            dict plus `attention_mask` and must return probabilities of shape
            `(batch, 1)` (binary) or `(batch, num_classes)`.
        encoder: optional `FeatureEncoder`, needed by `predict_texts`/`predict_text` and
            string-in export. It is not applied in `call`: the model takes the encoder's dict.

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids` `(batch, length)`.

    Returns:
        probabilities `(batch, 1)` (binary) or `(batch, num_classes)`.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> backbone = BertBackbone(vocabulary_size=7, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = BertClassifier(backbone, num_classes=2, encoder=encoder)
    >>> model.compile()
    >>> x = encoder(["good movie", "bad movie"])
    >>> _ = model.fit(x, np.array([1, 0]), epochs=1, verbose=0)
    >>> result = model.predict_texts(["good movie", "bad"], batch_size=2)
    >>> result["labels"].shape, result["probabilities"].shape
    ((2,), (2,))
    """

    def __init__(self, backbone, num_classes=2, multi_label=False, pooling="pooled",
                 dropout=0.0, head=None, encoder=None, **kwargs):
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2 (2 for binary), received "
                f"{num_classes!r}.")
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}, received {pooling!r}.")
        binary = num_classes == 2 and not multi_label
        # === Layers ===
        if head is None:
            head = BertHead(
                num_outputs=1 if binary else num_classes, task_type="many_to_one",
                pooling=pooling, activation="softmax" if not (binary or multi_label)
                else "sigmoid", dropout=dropout, name="classifier_head")
        outputs = self._wire(backbone, head, encoder, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.multi_label = bool(multi_label)
        self.pooling = pooling
        self.dropout = dropout
        self.binary = binary
        width = 1 if binary else num_classes
        if outputs.shape[-1] != width:
            raise ValueError(
                f"The head must output {width} values per example for this task, its output "
                f"has shape {outputs.shape}.")

    @classmethod
    def from_preset(cls, preset, num_classes=2, multi_label=False, max_seq_len=128,
                    **kwargs):
        """Backbone and encoder from a Hugging Face directory or Hub id, new head.

        Args:
            preset: local directory (config.json, weights, vocab.txt) or Hub id.
            num_classes, multi_label: the task, as in the constructor.
            max_seq_len: the encoder's maximum length.
            **kwargs: other constructor arguments (`pooling`, `dropout`, `head`).
        """
        from bertcls.backbone import BertBackbone
        from bertcls.encoder import FeatureEncoder
        backbone = BertBackbone.from_preset(preset)
        encoder = FeatureEncoder.from_preset(preset, max_seq_len=max_seq_len)
        return cls(backbone, num_classes=num_classes, multi_label=multi_label,
                   encoder=encoder, **kwargs)

    # --- Training defaults -----------------------------------------------------------------

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with the tutorial's defaults: Adam(5e-5), the task's loss and
        accuracy. Any argument may be overridden."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=5e-5)
        if loss == "auto":
            loss = (keras.losses.SparseCategoricalCrossentropy() if self._multi_class
                    else keras.losses.BinaryCrossentropy())
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")
                       if self._multi_class else keras.metrics.BinaryAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    @property
    def _multi_class(self):
        return not (self.binary or self.multi_label)

    def check_labels(self, y, features=None):
        """Raise ValueError if `y` (array-like) cannot be this task's labels; return it as
        a numpy array otherwise. `features` is unused here (the tagger compares shapes)."""
        y = np.asarray(y)
        if self.multi_label:
            if y.ndim != 2 or y.shape[1] != self.num_classes:
                raise ValueError(
                    f"Multi-label labels must have shape (batch, {self.num_classes}), "
                    f"received {y.shape}.")
            _check_values(y, 0, 1, False, "Multi-label labels")
            return y
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(
                f"Labels must have shape (batch,) or (batch, 1) (one class id per example), "
                f"received {y.shape}.")
        if self.binary:
            _check_values(y, 0, 1, False, "Binary labels")
        else:
            _check_values(y, 0, self.num_classes - 1, True,
                          f"Class ids (num_classes={self.num_classes})")
        return y

    # --- From text to answer ---------------------------------------------------------------

    def _answer(self, probabilities, threshold):
        if self.binary:
            p = probabilities[:, 0]
            return (p > threshold).astype(np.int64), p
        if self.multi_label:
            return (probabilities > threshold).astype(np.int64), probabilities
        return probabilities.argmax(axis=-1), probabilities

    def predict_texts(self, texts, batch_size=32, threshold=0.5):
        """Labels and probabilities for a list of strings.

        Texts are encoded in large chunks, sorted by token length into batches padded to a
        multiple of 16 tokens, run through a compiled forward pass, and returned in input
        order.

        Args:
            texts: list of strings.
            batch_size: examples per forward pass.
            threshold: decision threshold for sigmoid outputs (binary, multi-label).

        Returns:
            dict with `labels` (`(n,)` class ids, or `(n, num_classes)` 0/1 for multi-label)
            and `probabilities` (`(n,)` positive-class probability for binary, else
            `(n, num_classes)`).
        """
        encoder = text_encoder(self)
        width = 1 if self.binary else self.num_classes
        probabilities = np.zeros((len(texts), width), np.float32)
        for indices, features, _ in sorted_batches(encoder, texts, batch_size):
            probabilities[indices] = predict_features(self, features)
        labels, probabilities = self._answer(probabilities, threshold)
        return {"labels": labels, "probabilities": probabilities}

    def predict_text(self, text, threshold=0.5):
        """One string: `(label, probability)` from one compiled call (on TensorFlow the
        encoder and the model run in a single traced function), for low-latency serving of
        single requests."""
        if not isinstance(text, str):
            raise ValueError(f"predict_text takes one string, received {type(text).__name__}.")
        labels, probabilities = self._answer(predict_strings(self, [text]), threshold)
        return labels[0], probabilities[0]

    # --- Serialization ---------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "multi_label": self.multi_label,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "head": keras.saving.serialize_keras_object(self.head),
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
        }


def tf_dataset_type():
    import tensorflow as tf
    return tf.data.Dataset


def check_data(model, x, y):
    """Validate labels given to `fit`/`evaluate` (see the class docstrings)."""
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            return
        label_spec = spec[1]
        if isinstance(label_spec, tf.TensorSpec) and not (
                label_spec.dtype.is_integer or label_spec.dtype.is_floating
                or label_spec.dtype.is_bool):
            raise ValueError(
                f"Dataset labels must be numeric, received dtype {label_spec.dtype.name}.")
        for batch in x.take(1):
            model.check_labels(np.asarray(batch[1]), features=batch[0])
        return
    if y is not None:
        model.check_labels(y, features=x)
