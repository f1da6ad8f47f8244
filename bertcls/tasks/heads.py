"""`BertHead`: the many-to-one (sentence) or many-to-many (token) output layer."""

import keras
from keras import ops

TASK_TYPES = ("many_to_one", "many_to_many")
POOLINGS = ("pooled", "cls", "mean")
ACTIVATIONS = ("sigmoid", "softmax", None)
# Activations of the optional hidden dense layer (the families' classification heads:
# tanh for RoBERTa / XLM-R, exact GELU for ELECTRA, ReLU for DistilBERT).
HIDDEN_ACTIVATIONS = ("tanh", "gelu", "relu")


def default_initializer():
    """TruncatedNormal(stddev=0.02), the tutorial's and BERT's head initializer."""
    return keras.initializers.TruncatedNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="bertcls")
class BertHead(keras.layers.Layer):
    """Dropout and a dense layer on top of a `BertBackbone`'s outputs.

    A many-to-one head reads one vector per example: the backbone's `pooled_output`
    (the tutorial's choice), the `[CLS]` vector of `sequence_output`, or the mean of
    `sequence_output` over real tokens (`attention_mask` 1). A many-to-many head reads
    `sequence_output` and predicts at every position.

    With `hidden_activation`, a dense layer of the hidden size with that activation (and
    dropout) comes before the output layer: the sequence-classification head of RoBERTa
    (`"tanh"`), ELECTRA (`"gelu"`) and DistilBERT (`"relu"`), which read the first token
    (`pooling="cls"`) of a backbone without a pooler. The order is dropout, hidden dense,
    dropout, output dense (transformers' DistilBERT has no dropout before the hidden
    layer; identical at inference).

    Args:
        num_outputs: units of the dense layer (1 for a binary sigmoid, else classes or tags).
        task_type: `"many_to_one"` (one prediction per example) or `"many_to_many"`
            (one per token).
        pooling: many-to-one only: `"pooled"`, `"cls"` or `"mean"`.
        activation: `"sigmoid"`, `"softmax"` or `None` (logits).
        dropout: dropout rate applied to the features during training.
        hidden_activation: None, or `"tanh"`, `"gelu"` (exact) or `"relu"`: add the hidden
            dense layer described above.
        kernel_initializer: initializer of the dense kernel; `None` means
            `TruncatedNormal(stddev=0.02)`.

    Call arguments:
        inputs: dict with `sequence_output` `(batch, length, hidden)`, `pooled_output`
            `(batch, hidden)` and, for `pooling="mean"`, `attention_mask` `(batch, length)`.
        training: whether dropout is active.

    Returns:
        `(batch, num_outputs)` for many-to-one, `(batch, length, num_outputs)` for
        many-to-many.

    Example:

    >>> import numpy as np
    >>> head = BertHead(num_outputs=3, activation="softmax", pooling="mean")
    >>> features = {"sequence_output": np.ones((2, 5, 8), "float32"),
    ...             "pooled_output": np.ones((2, 8), "float32"),
    ...             "attention_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])}
    >>> tuple(head(features).shape)
    (2, 3)
    >>> tagger_head = BertHead(num_outputs=5, task_type="many_to_many", activation=None)
    >>> tuple(tagger_head(features).shape)
    (2, 5, 5)
    """

    def __init__(self, num_outputs=1, task_type="many_to_one", pooling="pooled",
                 activation="sigmoid", dropout=0.0, kernel_initializer=None,
                 hidden_activation=None, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        if not isinstance(num_outputs, int) or isinstance(num_outputs, bool) or num_outputs < 1:
            raise ValueError(
                f"`num_outputs` must be a positive integer, received {num_outputs!r}.")
        if task_type not in TASK_TYPES:
            raise ValueError(f"`task_type` must be one of {TASK_TYPES}, received {task_type!r}.")
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}, received {pooling!r}.")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}, received {activation!r}.")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a number in [0, 1), received {dropout!r}.")
        if hidden_activation is not None and hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"`hidden_activation` must be None or one of {HIDDEN_ACTIVATIONS}, received "
                f"{hidden_activation!r}.")
        self.hidden_activation = hidden_activation
        self.num_outputs = num_outputs
        self.task_type = task_type
        self.pooling = pooling
        self.activation = activation
        self.dropout = dropout
        if kernel_initializer is None:
            self.kernel_initializer = None
            initializer = default_initializer()
        else:
            initializer = keras.initializers.get(kernel_initializer)
            self.kernel_initializer = initializer

        # === Layers ===
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self._initializer = initializer
        self.dense = keras.layers.Dense(
            num_outputs, kernel_initializer=initializer, name="dense")

    def build(self, input_shape):
        hidden = input_shape["sequence_output"][-1]
        if self.hidden_activation is not None:
            # Created here: its width is the backbone's hidden size.
            self.hidden_dense = keras.layers.Dense(
                hidden, activation=self.hidden_activation, kernel_initializer=self._initializer,
                name="hidden_dense")
            self.hidden_dense.build((None, hidden))
        self.dense.build((None, hidden))
        self.built = True

    def _features(self, inputs):
        if self.task_type == "many_to_many" or self.pooling == "cls":
            sequence = inputs["sequence_output"]
            return sequence if self.task_type == "many_to_many" else sequence[:, 0, :]
        if self.pooling == "pooled":
            return inputs["pooled_output"]
        if "attention_mask" not in inputs:
            raise ValueError(
                "pooling='mean' needs `attention_mask` in the head's input dict, received "
                f"keys {sorted(inputs)}.")
        sequence = inputs["sequence_output"]
        mask = ops.cast(ops.expand_dims(inputs["attention_mask"], -1), sequence.dtype)
        total = ops.sum(sequence * mask, axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def call(self, inputs, training=None):
        x = self.dropout_layer(self._features(inputs), training=training)
        if self.hidden_activation is not None:
            x = self.dropout_layer(self.hidden_dense(x), training=training)
        x = self.dense(x)
        if self.activation == "sigmoid":
            return ops.sigmoid(x)
        if self.activation == "softmax":
            return ops.softmax(x, axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        if self.task_type == "many_to_many":
            return tuple(input_shape["sequence_output"][:-1]) + (self.num_outputs,)
        return (input_shape["sequence_output"][0], self.num_outputs)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_outputs": self.num_outputs,
            "task_type": self.task_type,
            "pooling": self.pooling,
            "activation": self.activation,
            "dropout": self.dropout,
            "hidden_activation": self.hidden_activation,
            "kernel_initializer": (None if self.kernel_initializer is None
                                   else keras.initializers.serialize(self.kernel_initializer)),
        })
        return config
