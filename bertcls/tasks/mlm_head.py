"""The masked-LM head of every family: one layer (`MaskedLMHead`) and a table of what differs
per family (`MLM_HEADS`: Hugging Face names, activation, LayerNorm epsilon, width), plus
reading it from and writing it to Hugging Face checkpoints (`read_mlm_head`,
`mlm_head_tensors`).

Every family's head is dense -> activation -> LayerNorm -> a decoder tied to the input word
embeddings, with a bias of its own. What transformers does per family:

- BERT: `cls.predictions.transform.dense` / `.LayerNorm`, `cls.predictions.bias`;
  `hidden_act`, `layer_norm_eps`, hidden width.
- RoBERTa / XLM-R: `lm_head.dense` / `.layer_norm`, `lm_head.bias`; GELU whatever
  `hidden_act` says, `layer_norm_eps`, hidden width.
- ELECTRA's generator: `generator_predictions.dense` / `.LayerNorm`,
  `generator_lm_head.bias`; GELU (fixed), `layer_norm_eps`, `embedding_size` width.
- ALBERT: `predictions.dense` / `.LayerNorm`, `predictions.bias`; `hidden_act`,
  `layer_norm_eps`, `embedding_size` width.
- DistilBERT: `vocab_transform`, `vocab_layer_norm`, `vocab_projector.bias`; `activation`,
  eps 1e-12 (fixed), hidden width.
"""

import logging

import keras
import numpy as np
from keras import ops

from bertcls.models.activations import get_activation
from bertcls.models.errors import CheckpointError

logger = logging.getLogger(__name__)

# model_type -> the family's masked-LM head. `activation` / `epsilon`: None means the
# backbone's own (`hidden_act`, `layer_norm_epsilon`); `width`: "hidden" or "embedding"
# (`embedding_size`, the word embeddings' width); `decoder`: the tied output layer (its
# weight is the word embeddings; `<decoder>.bias`, where it differs from `bias`, is an alias
# older checkpoints store); `ignored`: the family's other pre-training heads.
MLM_HEADS = {
    "bert": dict(dense="cls.predictions.transform.dense",
                 norm="cls.predictions.transform.LayerNorm", bias="cls.predictions.bias",
                 decoder="cls.predictions.decoder", activation=None, epsilon=None,
                 width="hidden", ignored=("cls.seq_relationship.",)),
    "roberta": dict(dense="lm_head.dense", norm="lm_head.layer_norm", bias="lm_head.bias",
                    decoder="lm_head.decoder", activation="gelu", epsilon=None,
                    width="hidden", ignored=()),
    "electra": dict(dense="generator_predictions.dense", norm="generator_predictions.LayerNorm",
                    bias="generator_lm_head.bias", decoder="generator_lm_head",
                    activation="gelu", epsilon=None, width="embedding",
                    ignored=("discriminator_predictions.",)),
    "albert": dict(dense="predictions.dense", norm="predictions.LayerNorm",
                   bias="predictions.bias", decoder="predictions.decoder", activation=None,
                   epsilon=None, width="embedding", ignored=("sop_classifier.",)),
    "distilbert": dict(dense="vocab_transform", norm="vocab_layer_norm",
                       bias="vocab_projector.bias", decoder="vocab_projector",
                       activation=None, epsilon=1e-12, width="hidden", ignored=()),
}
MLM_HEADS["xlm-roberta"] = MLM_HEADS["roberta"]
ROLES = ("dense.weight", "dense.bias", "norm.weight", "norm.bias", "bias")


def mlm_head_spec(family):
    """The `MLM_HEADS` entry of a backbone, backbone class or `model_type` string.

    Raises:
        ValueError: not one of the six families.
    """
    model_type = family if isinstance(family, str) else getattr(family, "model_type", None)
    if model_type not in MLM_HEADS:
        raise ValueError(
            f"No masked-LM head for {model_type!r} (from {family!r}); bertcls has one for "
            f"{sorted(MLM_HEADS)} (a bertcls family backbone).")
    return MLM_HEADS[model_type]


def head_options(backbone):
    """`MaskedLMHead` arguments (width, activation, epsilon) for a family backbone."""
    spec = mlm_head_spec(backbone)
    width = backbone.hidden_size
    if spec["width"] == "embedding":
        width = getattr(backbone, "embedding_size", None) or backbone.hidden_size
    return dict(
        vocabulary_size=backbone.vocabulary_size, width=width,
        activation=spec["activation"] or backbone.hidden_act,
        layer_norm_epsilon=spec["epsilon"] or backbone.layer_norm_epsilon,
        initializer_range=backbone.initializer_range)


def _names(spec):
    """role -> accepted checkpoint names (the current first, then legacy aliases)."""
    legacy = ("gamma", "beta") if spec["norm"].endswith("LayerNorm") else ()
    names = {
        "dense.weight": [f"{spec['dense']}.weight"],
        "dense.bias": [f"{spec['dense']}.bias"],
        "norm.weight": [f"{spec['norm']}.weight"] + (
            [f"{spec['norm']}.{legacy[0]}"] if legacy else []),
        "norm.bias": [f"{spec['norm']}.bias"] + ([f"{spec['norm']}.{legacy[1]}"] if legacy
                                                 else []),
        "bias": [spec["bias"]],
        "decoder.weight": [f"{spec['decoder']}.weight"],
    }
    if f"{spec['decoder']}.bias" != spec["bias"]:
        names["bias"].append(f"{spec['decoder']}.bias")
    return names


def read_mlm_head(family, tensors, source="Checkpoint"):
    """The masked-LM head tensors of a Hugging Face checkpoint.

    Args:
        family: a family backbone (class or instance) or its `model_type`.
        tensors: the checkpoint's tensors, as `bertcls.models.checkpoints.read_checkpoint`
            returns them (names as stored: `cls.predictions.*`, `lm_head.*`, ...; legacy
            `LayerNorm.gamma/beta` accepted).
        source: the checkpoint, named in messages.

    Returns:
        `(values, used, ignored)`: `values` maps the roles `dense.weight`, `dense.bias`,
        `norm.weight`, `norm.bias`, `bias` (and `decoder.weight` when the checkpoint stores
        the tied decoder) to float32 arrays in Hugging Face's layout, empty when the
        checkpoint has no masked-LM head; `used` lists the checkpoint names read; `ignored`
        the names of the family's other pre-training heads (next-sentence, sentence-order,
        ELECTRA's discriminator), which a masked-LM model does not use.

    Raises:
        CheckpointError: the head is partly there (the missing names listed).

    Example:

    >>> import numpy as np
    >>> tensors = {"lm_head.dense.weight": np.zeros((4, 4)), "lm_head.dense.bias": np.zeros(4),
    ...            "lm_head.layer_norm.weight": np.ones(4), "lm_head.layer_norm.bias": np.zeros(4),
    ...            "lm_head.bias": np.zeros(10), "roberta.pooler.dense.bias": np.zeros(4)}
    >>> values, used, ignored = read_mlm_head("roberta", tensors)
    >>> sorted(values), len(used), ignored
    (['bias', 'dense.bias', 'dense.weight', 'norm.bias', 'norm.weight'], 5, [])
    """
    spec = mlm_head_spec(family)
    values, used, missing = {}, [], []
    for role, names in _names(spec).items():
        found = [n for n in names if n in tensors]
        if not found:
            if role != "decoder.weight":
                missing.append(names[0])
            continue
        values[role] = np.asarray(tensors[found[0]], np.float32)
        used.extend(found)  # an alias stored beside the name is consumed too
    ignored = sorted(n for n in tensors if spec["ignored"] and n.startswith(spec["ignored"]))
    if missing and len(missing) < len(ROLES):
        raise CheckpointError(
            f"{source} has part of a masked-LM head: {sorted(used)} but not {missing}.")
    if missing:  # no head at all (a base model, ELECTRA's discriminator)
        values, used = {}, []
    return values, sorted(used), ignored


@keras.saving.register_keras_serializable(package="bertcls")
class MaskedLMHead(keras.layers.Layer):
    """Dense -> activation -> LayerNorm -> logits over the vocabulary, the decoder tied to the
    backbone's word embeddings (`token_embedding`) with a bias of its own.

    The task (`bertcls.BertMaskedLM`) builds it from its backbone (`head_options`); the
    embedding layer is given, not owned, so it is not part of `get_config`.

    Args:
        token_embedding: the backbone's `keras.layers.Embedding` (`(vocabulary_size, width)`).
        vocabulary_size: number of output logits.
        width: the transform's output width (the embeddings' width).
        activation: Hugging Face activation name (`"gelu"`, `"gelu_new"`, `"relu"`, ...).
        layer_norm_epsilon: the LayerNorm's epsilon.
        initializer_range: stddev of the dense layer's truncated-normal initializer.

    Call arguments:
        inputs: the backbone's output dict (reads `sequence_output`) or the hidden states.

    Returns:
        float32 logits `(batch, length, vocabulary_size)`.

    Example:

    >>> import numpy as np, keras
    >>> embedding = keras.layers.Embedding(10, 4)
    >>> embedding.build((None,))
    >>> head = MaskedLMHead(embedding, vocabulary_size=10, width=4)
    >>> tuple(head(np.zeros((2, 3, 8), "float32")).shape)
    (2, 3, 10)
    """

    def __init__(self, token_embedding, vocabulary_size, width, activation="gelu",
                 layer_norm_epsilon=1e-12, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        # === Layers ===
        self.token_embedding = token_embedding
        self.dense = keras.layers.Dense(
            width, kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=initializer_range),
            dtype=self.dtype_policy, name="dense")
        self.activation_fn = get_activation(activation)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")
        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.width = width
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["sequence_output"]
        self.dense.build(input_shape)
        self.layer_norm.build(tuple(input_shape[:-1]) + (self.width,))
        self.bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros",
                                    name="bias")
        self.built = True

    def call(self, inputs):
        x = inputs["sequence_output"] if isinstance(inputs, dict) else inputs
        x = self.layer_norm(self.activation_fn(self.dense(x)))
        embeddings = ops.cast(self.token_embedding.embeddings, x.dtype)
        logits = ops.matmul(x, ops.transpose(embeddings)) + ops.cast(self.bias, x.dtype)
        return ops.cast(logits, "float32")

    def compute_output_spec(self, inputs):
        x = inputs["sequence_output"] if isinstance(inputs, dict) else inputs
        return keras.KerasTensor(tuple(x.shape[:-1]) + (self.vocabulary_size,), "float32")

    def assign_hf(self, values, source="Checkpoint"):
        """Set the head from `read_mlm_head`'s values (shapes checked first)."""
        expected = {"dense.weight": (self.width, self.dense.kernel.shape[0]),
                    "dense.bias": (self.width,), "norm.weight": (self.width,),
                    "norm.bias": (self.width,), "bias": (self.vocabulary_size,)}
        wrong = {r: tuple(values[r].shape) for r in expected
                 if tuple(values[r].shape) != expected[r]}
        if wrong:
            raise CheckpointError(
                f"{source}: masked-LM head tensors of the wrong shape: {wrong}; expected "
                f"{ {r: expected[r] for r in wrong} }.")
        self.dense.kernel.assign(values["dense.weight"].T)
        self.dense.bias.assign(values["dense.bias"])
        self.layer_norm.gamma.assign(values["norm.weight"])
        self.layer_norm.beta.assign(values["norm.bias"])
        self.bias.assign(values["bias"])

    @classmethod
    def from_config(cls, config):
        if "token_embedding" not in config:
            raise ValueError(
                "MaskedLMHead.from_config needs the backbone's embedding layer, which its "
                "config leaves out (the decoder is tied to it): call "
                "MaskedLMHead(backbone.token_embedding, **config); BertMaskedLM does.")
        return cls(**config)

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size, width=self.width,
                      activation=self.activation, layer_norm_epsilon=self.layer_norm_epsilon,
                      initializer_range=self.initializer_range)
        return config


def mlm_head_tensors(head, family):
    """The head's weights under transformers' names for `family` (the tied decoder weight
    left out: transformers ties it to the word embeddings when it loads).

    Example:

    >>> import keras
    >>> embedding = keras.layers.Embedding(10, 4)
    >>> embedding.build((None,))
    >>> head = MaskedLMHead(embedding, vocabulary_size=10, width=4)
    >>> head.build((None, None, 8))
    >>> sorted(mlm_head_tensors(head, "distilbert"))
    ['vocab_layer_norm.bias', 'vocab_layer_norm.weight', 'vocab_projector.bias', \
'vocab_transform.bias', 'vocab_transform.weight']
    """
    spec = mlm_head_spec(family)

    def array(variable):
        return np.ascontiguousarray(keras.ops.convert_to_numpy(variable.value), np.float32)

    return {f"{spec['dense']}.weight": np.ascontiguousarray(array(head.dense.kernel).T),
            f"{spec['dense']}.bias": array(head.dense.bias),
            f"{spec['norm']}.weight": array(head.layer_norm.gamma),
            f"{spec['norm']}.bias": array(head.layer_norm.beta),
            spec["bias"]: array(head.bias)}
