"""String-in serving: a SavedModel whose input is a batch of strings (TensorFlow backend)."""

import os

import keras

ENDPOINT = "serve"
LABELS_ENDPOINT = "labels"


def export_text_model(model, path, encoder=None, endpoint=ENDPOINT, overwrite=False,
                      pairs=False, named_outputs=True):
    """Write a SavedModel that maps a batch of raw strings (or sentence pairs) to the model's
    outputs.

    The `FeatureEncoder` (WordPiece tokenization, special tokens, padding) runs inside the
    graph, so the SavedModel needs neither bertcls nor Keras to load; it does need
    `import tensorflow_text` first, which registers the tokenizer ops.

    Args:
        model: a `BertClassifier`, `BertRegressor`, `BertTagger`, `SentenceEmbedder` or any
            Keras model taking the encoder's dict.
        path: output directory.
        encoder: the `FeatureEncoder`; defaults to `model.encoder`.
        endpoint: name of the serving function.
        overwrite: write into `path` even if it is a non-empty directory. The SavedModel's
            files (`saved_model.pb`, `variables/`, `assets/`, `fingerprint.pb`) are replaced;
            other files there are left as they are. By default a non-empty `path` is refused,
            so an export never writes over a previous model or unrelated files by accident.
        pairs: serve sentence pairs: the endpoint takes two string inputs, `texts_a` and
            `texts_b` (`(batch,)` each), encoded `[CLS] a [SEP] b [SEP]` with the same
            longest-first truncation as in training.
        named_outputs: the endpoint returns a dict of named outputs shaped as the model's
            `predict_texts` returns them (the default). `False` returns the model's raw output
            tensor instead (`(batch, 1)` probabilities for a binary classifier, `(batch, length,
            num_tags)` for a tagger).

    Returns:
        `path`. The SavedModel has `<endpoint>(texts)` (with `pairs=True`,
        `<endpoint>(texts_a, texts_b)`): strings `(batch,)` in, a dict of named outputs out,
        the shapes `predict_texts` gives:

        - `BertClassifier`: `probabilities` (float32) and `label_ids` (int64). Binary:
          `(batch,)` probability of class 1 and `(batch,)` ids at the 0.5 threshold;
          multi-class: `(batch, num_classes)` and `(batch,)` argmax ids; multi-label:
          `(batch, num_classes)` and 0/1 `(batch, num_classes)` ids.
        - `BertRegressor`: `values`, `(batch,)` for one output, else `(batch, num_outputs)`.
        - `BertTagger`: `probabilities` `(batch, length, num_tags)` and `tag_ids`
          `(batch, length)`.
        - `SentenceEmbedder`: `embeddings`, `(batch, embedding_dim)`.
        - Any other model: its output, float32; a head that returns a dict of tensors (a
          multi-task head) gives a dict under the same names.

        Column `j` is class (or tag) id `j`. When the model has names (a classifier built
        with `labels=[...]`, a tagger with `tags=[...]`), the SavedModel also has `labels()`:
        no input, a string tensor of the names in id order (Hugging Face's `id2label`), so
        `labels()[label_ids]` names the prediction without bertcls. In TensorFlow Serving the
        same dict keys are the signature's output names.

    Raises:
        FileExistsError: `path` is a non-empty directory and `overwrite` is False, or a file.
        ValueError: the backend is not TensorFlow, or there is no encoder, or `endpoint`
            is `"labels"` for a model with names, or the model returns a list of outputs
            (return a dict, so that each output has a name).

    Example:

    >>> import tempfile, tensorflow as tf, tensorflow_text  # noqa: F401
    >>> from bertcls import BertBackbone, BertClassifier, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad"]
    >>> backbone = BertBackbone(vocabulary_size=6, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = BertClassifier(backbone, encoder=FeatureEncoder(vocab, max_seq_len=8))
    >>> path = export_text_model(model, tempfile.mkdtemp())
    >>> served = tf.saved_model.load(path)  # keep a reference while calling it
    >>> out = served.serve(tf.constant(["good", "bad"]))
    >>> sorted(out), tuple(out["probabilities"].shape)
    (['label_ids', 'probabilities'], (2,))
    >>> path = export_text_model(model, tempfile.mkdtemp(), pairs=True)
    >>> served = tf.saved_model.load(path)
    >>> out = served.serve(tf.constant(["good", "bad"]), tf.constant(["bad", "bad"]))
    >>> tuple(out["label_ids"].shape)
    (2,)
    >>> raw = tf.saved_model.load(export_text_model(model, tempfile.mkdtemp(),
    ...                                             named_outputs=False))
    >>> tuple(raw.serve(tf.constant(["good"])).shape)
    (1, 1)
    >>> named = BertClassifier(backbone, encoder=model.encoder, labels=["neg", "pos"])
    >>> served = tf.saved_model.load(export_text_model(named, tempfile.mkdtemp()))
    >>> served.labels().numpy().tolist()
    [b'neg', b'pos']
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "String-in export builds a TensorFlow SavedModel and needs KERAS_BACKEND="
            f"tensorflow, the backend is {keras.backend.backend()!r}.")
    import tensorflow as tf

    _check_target(path, overwrite)
    encoder = encoder if encoder is not None else getattr(model, "encoder", None)
    if encoder is None:
        raise ValueError(
            "export_text_model needs a FeatureEncoder: pass `encoder=` or build the model "
            "with one.")
    if getattr(encoder, "return_offsets", False):
        config = dict(encoder.get_config(), return_offsets=False)
        encoder = type(encoder).from_config(config)

    def outputs(texts):
        features = encoder(texts)
        features = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        out = _float_outputs(model(features, training=False))
        return _named(model, out) if named_outputs else out

    # Named arguments, so that callers may pass `texts=` or `texts_a=` / `texts_b=`.
    def serve(texts):
        return outputs(texts)

    def serve_pairs(texts_a, texts_b):
        return outputs((texts_a, texts_b))

    label_names = _label_names(model)
    if label_names is not None and endpoint == LABELS_ENDPOINT:
        raise ValueError(f"endpoint={endpoint!r} is taken by the label names of this model; "
                         "pick another endpoint name.")

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(encoder)
    names = ("texts_a", "texts_b") if pairs else ("texts",)
    archive.add_endpoint(endpoint, serve_pairs if pairs else serve, input_signature=[
        tf.TensorSpec([None], tf.string, name=name) for name in names])
    if label_names is not None:
        def labels():
            return tf.constant(label_names, tf.string)

        archive.add_endpoint(LABELS_ENDPOINT, labels, input_signature=[])
    archive.write_out(str(path), verbose=False)
    return path


def _float_outputs(outputs):
    """The model's output as float32: one tensor, or a dict of named tensors (a multi-output
    head), which the SavedModel then returns under the same names."""
    import tensorflow as tf

    if isinstance(outputs, dict):
        bad = [k for k, v in outputs.items() if not isinstance(k, str) or not tf.is_tensor(v)]
        if bad:
            raise ValueError(f"export_text_model serves one tensor or a dict of named tensors; "
                             f"the model's output dict has non-tensor or unnamed entries {bad}.")
        return {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        raise ValueError(
            f"export_text_model serves one tensor or a dict of named tensors; the model returns "
            f"a {type(outputs).__name__} of {len(outputs)} outputs. Return a dict from the "
            f"head (e.g. {{'intent': ..., 'tags': ...}}) so each output has a name.")
    return tf.cast(outputs, tf.float32)


def _named(model, out):
    """The outputs of a bertcls task model under names, shaped as its `predict_texts`."""
    import tensorflow as tf

    from bertcls.tasks.classifier import BertClassifier
    from bertcls.tasks.embedder import SentenceEmbedder
    from bertcls.tasks.regressor import BertRegressor
    from bertcls.tasks.tagger import BertTagger

    if isinstance(model, BertClassifier):
        if model.binary:
            p = out[:, 0]
            return {"probabilities": p, "label_ids": tf.cast(p > 0.5, tf.int64)}
        if model.multi_label:
            return {"probabilities": out, "label_ids": tf.cast(out > 0.5, tf.int64)}
        return {"probabilities": out, "label_ids": tf.argmax(out, axis=-1)}
    if isinstance(model, BertRegressor):
        return {"values": out[:, 0] if model.num_outputs == 1 else out}
    if isinstance(model, BertTagger):
        return {"probabilities": out, "tag_ids": tf.argmax(out, axis=-1)}
    if isinstance(model, SentenceEmbedder):
        return {"embeddings": out}
    return out


def _label_names(model):
    """The names of the output's columns: a classifier's `labels`, a tagger's `tags`."""
    names = getattr(model, "labels", None)
    if names is None:
        names = getattr(model, "tags", None)
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        return None  # not a list of names (some other model's attribute)
    return list(names)


def _check_target(path, overwrite):
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"Cannot export to {path}: it is a file, not a directory.")
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise FileExistsError(
            f"Cannot export to {path}: the directory is not empty. Pick a new directory, or "
            "pass overwrite=True to write the SavedModel over what is there.")
