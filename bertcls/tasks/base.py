"""`Task`, the base every task model shares: the encoder-dict -> backbone -> head graph, label
checks in fit/evaluate, compile on load, deserializing the layers in its config."""

import warnings

import keras
import numpy as np

from bertcls.models.config import check_encoder_fits_backbone

FEATURE_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def feature_inputs():
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}


class Task(keras.Model):
    """What the task models share: label checks in fit/evaluate, compile on load,
    deserializing the layers in their config."""

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

    def fit(self, x=None, y=None, **kwargs):
        check_data(self, x, y)
        validation = kwargs.get("validation_data")
        if isinstance(validation, tf_dataset_type()):
            check_data(self, validation, None)
        elif isinstance(validation, (tuple, list)) and len(validation) >= 2:
            check_data(self, validation[0], validation[1])
        # A head that does not read `pooled_output` (a tagger, the first-token heads) leaves
        # the backbone's pooler without gradients; Keras would warn on every fit.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"Gradients do not exist for variables \['pooler_dense")
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
