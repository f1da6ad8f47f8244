"""`Task`, the base every task model shares: the encoder-dict -> backbone -> head graph, label
checks in fit/evaluate, compile on load, deserializing the layers in its config."""

import gc
import logging
import re
import warnings

import keras
import numpy as np

from bertcls.models.config import check_encoder_fits_backbone
from bertcls.tasks.micro_batch import check_micro_batch_tokens, micro_batch_train_step

FEATURE_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# The traced functions `bertcls.tasks.prediction` keeps on a model. They capture the model's
# variables when traced: anything that replaces variables (`Task.quantize`) drops them.
TRACED = ("_bertcls_predict_fn", "_bertcls_strings_fn", "_bertcls_pairs_fn")


def forget_traced(model):
    """Drop the model's traced prediction functions; the next call traces anew."""
    for key in TRACED:
        model.__dict__.pop(key, None)


def feature_inputs():
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}


class Task(keras.Model):
    """What the task models share: label checks in fit/evaluate, compile on load,
    deserializing the layers in their config, publishing to the Hub."""

    # The transformers task architecture suffix this class reads and writes
    # (`bertcls.tasks.pretrained.HF_TASKS`); None: none.
    hf_task = None

    def _wire(self, backbone, head, encoder, **kwargs):
        """Build the functional graph, the encoder's dict -> backbone -> head (which also
        receives `attention_mask`), and return the head's output."""
        check_encoder_fits_backbone(encoder, backbone)
        self.backbone = backbone
        self.head = head
        self.encoder = encoder
        inputs = feature_inputs()
        features = dict(backbone(inputs))
        features["attention_mask"] = inputs["attention_mask"]
        outputs = head(features)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        return outputs

    def quantize(self, mode, **kwargs):
        """Keras' `Model.quantize` (e.g. `"int8"`: the dense and attention projections get
        int8 weights), made to take effect everywhere bertcls runs the model.

        `predict_texts`, `predict_text`, `embed`, `predict_answers` and the rest run traced
        functions that captured the float weights when first called; they are dropped here,
        so the next call runs the quantized layers (before this, a quantized model kept
        answering with its float weights). Keras' warning for each layer that has nothing to
        quantize (LayerNormalization, Dropout, the encoder layer, ...) is not repeated; one
        INFO record counts the quantized layers. Keras runs a full garbage collection for
        every float weight it replaces, whose cost grows with everything else alive in the
        process; the objects alive before quantizing are left out of those collections
        (`gc.freeze`, undone afterwards; a heap the process froze itself stays frozen), and
        the float weights are still freed as each is replaced.

        Args:
            mode: Keras' quantization mode (`"int8"`, `"float8"`, ...).
            **kwargs: passed to `keras.Model.quantize`.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"Layer .* does not have a `quantize` method implemented")
            # A process that froze its heap itself (a pre-forking server) keeps its freeze.
            freeze = not gc.get_freeze_count()
            if freeze:
                gc.freeze()
            try:
                super().quantize(mode, **kwargs)
            finally:
                if freeze:
                    gc.unfreeze()
        forget_traced(self)
        self.predict_function = None
        self._quantization_mode = mode
        quantized = [layer.name for layer in self._flatten_layers()
                     if getattr(layer, "quantization_mode", None) == mode]
        logging.getLogger(__name__).info("Quantized %d layers to %s.", len(quantized), mode)

    def quantization_config(self):
        """`{"quantization": mode}` for a quantized model's config (`from_config` quantizes
        the rebuilt model the same way before its weights load), else `{}`."""
        mode = getattr(self, "_quantization_mode", None)
        return {} if mode is None else {"quantization": mode}

    def push_to_hub(self, repo_id, token=None, private=None, commit_message=None, **options):
        """`save_pretrained` into a temporary directory, then upload exactly that directory
        to the Hugging Face Hub repository `repo_id` (`bertcls.hub.upload_directory`).

        Args:
            repo_id: `"namespace/name"`.
            token, private, commit_message: as in `bertcls.hub.upload_directory`.
            **options: passed to `save_pretrained` (`labels`, and the model card's
                `base_model`, `results`, `language`, `license`, ...).

        Returns:
            The upload's commit information.

        Raises:
            bertcls.PresetError: a malformed `repo_id`.
            ValueError: what `save_pretrained` raises (e.g. a custom head).
        """
        import tempfile

        from bertcls.hub import upload_directory

        with tempfile.TemporaryDirectory() as directory:
            self.save_pretrained(directory, **options)
            return upload_directory(directory, repo_id, token=token, private=private,
                                    commit_message=commit_message)

    def fit(self, x=None, y=None, **kwargs):
        check_data(self, x, y)
        no_shuffle_for_datasets(x, kwargs)
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf_dataset_type()):
            check_data(self, validation, None)
            kwargs["validation_data"] = check_every_batch(self, validation)
        elif isinstance(validation, (tuple, list)) and len(validation) >= 2:
            check_data(self, validation[0], validation[1])
        # A head that does not read `pooled_output` (a tagger, the first-token heads) leaves
        # the backbone's pooler without gradients; Keras would warn on every fit.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"Gradients do not exist for variables \['pooler_dense")
            with label_errors():
                return super().fit(check_every_batch(self, x), y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        check_data(self, x, y)
        with label_errors():
            return super().evaluate(check_every_batch(self, x), y, **kwargs)

    def compile(self, *args, micro_batch_tokens=None, **kwargs):
        """Keras `compile`, plus `micro_batch_tokens`.

        Args:
            *args, **kwargs: Keras `Model.compile`'s arguments.
            micro_batch_tokens: None (default) or a positive int: training steps (TensorFlow
                backend, not under `jit_compile=True`) run forward and backward on slices
                of at most this many tokens (rows x padded length; at least one row) and
                apply one update with the summed gradient. Activation memory then follows
                the slice, not the batch: MiniLM training on 64 x 128 batches peaked
                at 2.2 GB resident with 1024 instead of 4.7 GB (docs/benchmarks.md).
                The update equals the whole batch's for losses averaged over examples.
                Not saved with the model.
        """
        super().compile(*args, **kwargs)
        self.micro_batch_tokens = check_micro_batch_tokens(micro_batch_tokens, self)

    def train_step(self, *args):
        # (data) on TensorFlow, (state, data) on JAX, where micro batches are refused.
        if getattr(self, "micro_batch_tokens", None):
            return micro_batch_train_step(self, args[0], self.micro_batch_tokens)
        return super().train_step(*args)

    def compile_from_config(self, config):
        # Keras skips compile on load when compile() is overridden; ours takes the same args.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        quantization = config.pop("quantization", None)
        for key in ("backbone", "head", "encoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        model = cls(**config)
        if quantization is not None:  # the saved weights are the quantized layers' variables
            model.quantize(quantization)
        return model


def no_shuffle_for_datasets(x, kwargs):
    """Keras `fit` defaults to `shuffle=True` and then warns, on every fit of a
    `tf.data.Dataset`, that it ignores it; a dataset shuffles itself (`make_dataset(...,
    shuffle=True)`). Default to False there; a `shuffle=True` the caller passes still warns."""
    if isinstance(x, tf_dataset_type()):
        kwargs.setdefault("shuffle", False)


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


_MARK = "[bertcls label check]"
_MARKED = re.compile(re.escape(_MARK) + r" (.*?) " + re.escape(_MARK), flags=re.S)


def check_every_batch(model, x):
    """`x` with `model.check_labels` run on every batch's labels, if it is a `tf.data.Dataset`
    of `(features, labels[, weights])` with one label tensor; otherwise `x` unchanged.

    The check runs inside the input pipeline (a `tf.numpy_function` per batch, on both
    backends), so it sees each batch as training does; a bad batch stops `fit`/`evaluate`
    with the `ValueError` of `check_labels` and the batch's position (`label_errors`).
    Not under a `keras.distribution` (JAX data parallel), which reads the global batch size
    from the dataset's graph: there only the first batch is checked (`check_data`).
    """
    import tensorflow as tf

    if not isinstance(x, tf.data.Dataset) or getattr(x, "_bertcls_checked", False):
        return x
    if keras.distribution.distribution() is not None:
        # keras.distribution (JAX, several devices or processes) reads the global batch size
        # from the dataset's graph, which the checking map hides: only the first batch is
        # checked there (`check_data`).
        return x
    spec = x.element_spec
    if not (isinstance(spec, tuple) and len(spec) in (2, 3)
            and isinstance(spec[1], tf.TensorSpec)):
        return x
    with_ids = isinstance(spec[0], dict) and isinstance(spec[0].get("input_ids"), tf.TensorSpec)

    def check(index, labels, input_ids=None):
        try:
            model.check_labels(labels, features=None if input_ids is None
                               else {"input_ids": input_ids})
        except ValueError as error:
            raise ValueError(f"{_MARK} Labels of batch {int(index)} (counting from 0 in this "
                             f"pass over the dataset): {error} {_MARK}") from None
        return labels

    def checked(index, element):
        features, labels = element[0], element[1]
        inputs = [index, labels] + ([features["input_ids"]] if with_ids else [])
        checked_labels = tf.numpy_function(check, inputs, labels.dtype, stateful=False)
        checked_labels.set_shape(labels.shape)
        return (features, checked_labels) + tuple(element[2:])

    out = x.enumerate().map(checked)  # sequential: batch order and positions kept
    out._bertcls_checked = True
    return out


class label_errors:
    """Turn the error of a label check inside the input pipeline (raised by TensorFlow as an
    `InvalidArgumentError` wrapping the `ValueError`) back into a plain `ValueError`."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        found = _MARKED.search(str(error)) if error is not None else None
        if found is None:
            return False
        raise ValueError(found.group(1)) from None


def check_values(y, low, high, integral, what):
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
