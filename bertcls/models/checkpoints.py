"""Hugging Face checkpoints: config mapping, reading, weight assignment and writing.

Reads `model.safetensors` with safetensors' numpy API and `pytorch_model.bin`
with `bertcls.models.torch_bin` (no torch, no pickle code executed), maps a
family's Hugging Face weight names (its backbone's `hf_weight_map()`) onto the
backbone's variables, converts keras-hub BERT presets, and writes `config.json` +
`model.safetensors` (+ tokenizer files) that `transformers.AutoModel.from_pretrained`
loads. The BERT config mapping lives here; the other families' in their modules.
"""

import json
import logging
import math
import os

import numpy as np

from bertcls.models.activations import HIDDEN_ACTIVATIONS
from bertcls.models.config import validate_backbone_args, validate_hf_config
from bertcls.models.errors import CheckpointError, UnsafeCheckpointError  # noqa: F401
from bertcls.models.weight_report import WeightReport
from bertcls.models.checkpoint_files import Preset
# Re-exported: the readers' home before checkpoint_files.py (tests and callers import them here).
from bertcls.models.checkpoint_files import read_checkpoint, read_safetensors  # noqa: F401

logger = logging.getLogger(__name__)

# Hugging Face config key -> BertBackbone argument.
HF_CONFIG_KEYS = {
    "vocab_size": "vocabulary_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_size": "hidden_size",
    "intermediate_size": "intermediate_size",
    "hidden_act": "hidden_act",
    "hidden_dropout_prob": "dropout",
    "attention_probs_dropout_prob": "attention_dropout",
    "max_position_embeddings": "max_sequence_length",
    "type_vocab_size": "type_vocab_size",
    "layer_norm_eps": "layer_norm_epsilon",
    "initializer_range": "initializer_range",
}
REQUIRED_HF_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers",
                    "num_attention_heads", "intermediate_size")
# Every family bertcls loads (`bertcls.backbone_from_preset` dispatches on these).
MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "electra", "albert", "distilbert")


def hf_config_to_kwargs(config, model_type="bert", embedding_size=False):
    """Map a Hugging Face BERT `config.json` dict to `BertBackbone` arguments.

    RoBERTa, XLM-R and ELECTRA configs share BERT's keys: their modules call this with
    their `model_type` (and ELECTRA with `embedding_size=True`, which allows and maps
    `embedding_size`).

    Keys the backbone does not need (tokenizer ids, `architectures`,
    `torch_dtype`, ...) are ignored; keys that would change the computation
    in a way this backbone does not implement raise.

    Args:
        config: dict loaded from `config.json`.

    Returns:
        dict of `BertBackbone` constructor arguments.

    Raises:
        ValueError: a required key is missing, or `model_type`,
            `hidden_act`, `position_embedding_type`, `is_decoder`,
            `add_cross_attention` or `embedding_size` has a value this
            backbone does not implement.

    Example:

    >>> hf_config_to_kwargs({"vocab_size": 10, "hidden_size": 8,
    ...     "num_hidden_layers": 1, "num_attention_heads": 2,
    ...     "intermediate_size": 16})["num_layers"]
    1
    """
    check_hf_config(config, REQUIRED_HF_KEYS, model_type)
    kwargs = {arg: config[key] for key, arg in HF_CONFIG_KEYS.items() if key in config}
    if embedding_size:
        kwargs["embedding_size"] = config.get("embedding_size", config["hidden_size"])
    elif config.get("embedding_size", config["hidden_size"]) != config["hidden_size"]:
        raise ValueError(
            f"Unsupported embedding_size {config['embedding_size']}; it must equal "
            f"hidden_size ({config['hidden_size']}).")
    return kwargs


def check_hf_config(config, required, model_type, activation_key="hidden_act",
                    default_activation="gelu"):
    """The checks every family's config mapping shares.

    Args:
        config: dict loaded from `config.json`.
        required: keys that must be present.
        model_type: the family's `model_type`; a config without one is taken as it.
        activation_key, default_activation: where the activation name is and its default.

    Raises:
        ValueError: `config` is not a dict, has a value of the wrong type or range
            (`bertcls.models.config.validate_hf_config`), lacks a required key, names another
            `model_type`, an unsupported activation or position embedding type, or is
            a decoder.
    """
    validate_hf_config(config)
    missing = [k for k in required if k not in config]
    if missing:
        raise ValueError(
            f"config.json lacks required {model_type} keys {missing}; received keys "
            f"{sorted(config)}.")
    found = config.get("model_type", model_type)
    if found != model_type:
        hint = ("load it with bertcls.backbone_from_preset, which picks the family"
                if found in MODEL_TYPES else
                f"bertcls loads the model types {', '.join(MODEL_TYPES)}")
        raise ValueError(
            f"Unsupported model_type {found!r} for a {model_type} backbone "
            f"(accepted: {model_type!r}); {hint}.")
    hidden_act = config.get(activation_key, default_activation)
    if hidden_act not in HIDDEN_ACTIVATIONS:
        raise ValueError(
            f"Unsupported {activation_key} {hidden_act!r}; accepted values are "
            f"{', '.join(HIDDEN_ACTIVATIONS)}.")
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ValueError(
            f"Unsupported position_embedding_type {position_type!r}; only "
            f"'absolute' is implemented.")
    for flag in ("is_decoder", "add_cross_attention"):
        if config.get(flag, False):
            raise ValueError(
                f"Unsupported {flag}={config[flag]!r}; only the bidirectional "
                f"encoder (False) is implemented.")


def kwargs_to_hf_config(kwargs, model_type="bert", architecture="BertModel", pad_token_id=0):
    """Map `BertBackbone.get_config()` (or RoBERTa's, ELECTRA's) to a `config.json` dict."""
    config = {
        "architectures": [architecture],
        "model_type": model_type,
        "position_embedding_type": "absolute",
        "pad_token_id": pad_token_id,
    }
    for key, arg in HF_CONFIG_KEYS.items():
        config[key] = kwargs[arg]
    return config


# === Weight names ===

# Checkpoint entries that are not backbone weights, skipped (logged once) by every family:
# the position_ids / token_type_ids buffers older checkpoints carry and the task heads of
# transformers' *ForSequenceClassification / *ForTokenClassification / *ForQuestionAnswering
# (so a fine-tuned checkpoint, or a bertcls task's `save_pretrained`, loads as a backbone).
SKIPPED_NAMES = ("embeddings.position_ids", "embeddings.token_type_ids")
HEAD_PREFIXES = ("classifier.", "pre_classifier.", "qa_outputs.")
# BERT's pre-training heads (kept for BertBackbone.skipped_prefixes).
SKIPPED_PREFIXES = ("cls.predictions.", "cls.seq_relationship.")
POOLER_NAMES = ("pooler.dense.weight", "pooler.dense.bias")


class Weight:
    """One Hugging Face tensor <-> one Keras variable, with the layout change.

    Args:
        variable: the Keras variable.
        kind: `"same"` (embeddings, biases, LayerNorm), `"linear"` (a dense kernel:
            transposed), `"qkv_kernel"` / `"qkv_bias"` (keras' per-head attention
            projections) or `"attention_output"`.
    """

    def __init__(self, variable, kind="same"):
        self.variable = variable
        self.kind = kind

    def to_keras(self, value):
        if self.kind == "same":
            return value
        shape = tuple(self.variable.shape)
        if self.kind == "linear":
            return value.T
        if self.kind == "qkv_kernel":  # (out, in) -> (in, heads, head_dim)
            return value.T.reshape(shape)
        if self.kind == "qkv_bias":  # (out,) -> (heads, head_dim)
            return value.reshape(shape)
        return value.T.reshape(shape)  # attention output (out, in) -> (heads, head_dim, out)

    def to_hf(self, value):
        if self.kind == "same":
            return value
        if self.kind == "linear":
            return value.T
        if self.kind == "qkv_kernel":
            return value.reshape(value.shape[0], -1).T
        if self.kind == "qkv_bias":
            return value.reshape(-1)
        return value.reshape(-1, value.shape[-1]).T

    def hf_shape(self):
        shape = tuple(self.variable.shape)
        if self.kind == "same":
            return shape
        if self.kind == "linear":
            return shape[::-1]
        if self.kind == "qkv_kernel":
            return (shape[1] * shape[2], shape[0])
        if self.kind == "qkv_bias":
            return (shape[0] * shape[1],)
        return (shape[2], shape[0] * shape[1])


_Weight = Weight  # the name before the families


def weight_map(backbone):
    """Hugging Face base-model weight name -> `Weight` for every backbone variable."""
    return backbone.hf_weight_map()


def family_name(backbone):
    return getattr(backbone, "model_type", None) or "bert"


def normalize_names(state, prefix="bert", source="Checkpoint"):
    """Strip the base-model prefix (`bert.`, `roberta.`, ...) and rename legacy
    `LayerNorm.gamma/beta` to weight/bias."""
    normalized = {}
    head = prefix + "."
    for name, value in state.items():
        new = name[len(head):] if name.startswith(head) else name
        if new.endswith("LayerNorm.gamma"):
            new = new[: -len("gamma")] + "weight"
        elif new.endswith("LayerNorm.beta"):
            new = new[: -len("beta")] + "bias"
        if new in normalized:
            raise CheckpointError(f"{source} names {new!r} twice (as {name!r} and another).")
        normalized[new] = value
    return normalized


# Hugging Face sub-names of one post-norm transformer layer, per role (BERT's names;
# RoBERTa and ELECTRA share them, ALBERT and DistilBERT have their own).
BERT_LAYER_NAMES = {
    "query": "attention.self.query", "key": "attention.self.key",
    "value": "attention.self.value", "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm", "intermediate": "intermediate.dense",
    "output": "output.dense", "output_norm": "output.LayerNorm",
}


def stack_hf_shapes(kwargs, layer_prefixes, names, embedding_size=None, token_types=True,
                    projection=None, pooler=None, embeddings_norm="embeddings.LayerNorm"):
    """Hugging Face weight name -> shape of an encoder stack, from its constructor arguments.

    What every family's `hf_shapes` computes: embeddings (word, position, token type,
    LayerNorm) at `embedding_size`, an optional projection to `hidden_size`, the transformer
    layers under `layer_prefixes` with the sub-names `names` (role -> name, see
    `BERT_LAYER_NAMES`), and an optional pooler.

    Args:
        kwargs: the backbone's constructor arguments.
        layer_prefixes: one prefix per stored layer (ALBERT stores one shared layer).
        names: role -> Hugging Face sub-name of a layer's weights.
        embedding_size: the embeddings' width (None: `hidden_size`).
        token_types: the family has a token type embedding.
        projection: the name of the embedding -> hidden dense layer, or None.
        pooler: the name of the pooler's dense layer, or None.
        embeddings_norm: the embeddings' LayerNorm name.
    """
    hidden, inner = kwargs["hidden_size"], kwargs["intermediate_size"]
    width = embedding_size or hidden
    shapes = {
        "embeddings.word_embeddings.weight": (kwargs["vocabulary_size"], width),
        "embeddings.position_embeddings.weight": (kwargs.get("max_sequence_length", 512),
                                                  width),
    }
    if token_types:
        shapes["embeddings.token_type_embeddings.weight"] = (
            kwargs.get("type_vocab_size", 2), width)
    shapes[f"{embeddings_norm}.weight"] = shapes[f"{embeddings_norm}.bias"] = (width,)
    if projection:
        shapes[f"{projection}.weight"], shapes[f"{projection}.bias"] = (hidden, width), (hidden,)
    for prefix in layer_prefixes:
        for role, (rows, columns) in (("query", (hidden, hidden)), ("key", (hidden, hidden)),
                                      ("value", (hidden, hidden)),
                                      ("attention_output", (hidden, hidden)),
                                      ("intermediate", (inner, hidden)),
                                      ("output", (hidden, inner))):
            shapes[f"{prefix}{names[role]}.weight"] = (rows, columns)
            shapes[f"{prefix}{names[role]}.bias"] = (rows,)
        for role in ("attention_norm", "output_norm"):
            shapes[f"{prefix}{names[role]}.weight"] = (hidden,)
            shapes[f"{prefix}{names[role]}.bias"] = (hidden,)
    if pooler:
        shapes[f"{pooler}.weight"], shapes[f"{pooler}.bias"] = (hidden, hidden), (hidden,)
    return shapes


def bert_hf_shapes(kwargs):
    """The `BertModel` weight name -> shape a `BertBackbone` with these arguments holds.

    Computed from the arguments alone, so a checkpoint can be checked against
    its config before any variable is allocated.

    Example:

    >>> bert_hf_shapes(dict(vocabulary_size=10, num_layers=1, num_heads=2, hidden_size=8,
    ...                     intermediate_size=16))["encoder.layer.0.intermediate.dense.weight"]
    (16, 8)
    """
    return stack_hf_shapes(kwargs, [f"encoder.layer.{i}." for i in range(kwargs["num_layers"])],
                           BERT_LAYER_NAMES, pooler="pooler.dense")


def declared_parameters(kwargs, stored_layers):
    """A lower bound of the parameters a config declares that every checkpoint of it holds:
    the word embeddings and the layers' dense kernels. Computed in O(1), before the
    per-weight shapes (whose size grows with `num_layers`)."""
    hidden, inner = kwargs["hidden_size"], kwargs["intermediate_size"]
    width = kwargs.get("embedding_size") or hidden
    return (kwargs["vocabulary_size"] * width
            + stored_layers * (4 * hidden * hidden + 2 * hidden * inner))


FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def skip_reason(name, skip=()):
    """Why checkpoint entry `name` is not a backbone weight (None: it should be one).

    Args:
        name: a weight name, the base-model prefix stripped (`normalize_names`).
        skip: the family's pre-training head prefixes (`skipped_prefixes`).
    """
    if name in SKIPPED_NAMES:
        return "buffers transformers recomputes"
    if name.startswith(tuple(skip)):
        return "the pre-training head, not part of a backbone"
    if name.startswith(HEAD_PREFIXES):
        return "a task head, not part of a backbone"
    return None


def check_state(state, shapes, skip=(), pooler=(), family="bert", source="Checkpoint",
                strict=False, needs_pooler=True):
    """Check checkpoint tensors against the weights a backbone holds (or its config implies).

    Args:
        state: weight name -> array (names normalised).
        shapes: weight name -> expected shape (`bert_hf_shapes`, or a built backbone's).
        skip: prefixes of entries that are not backbone weights (besides the task heads
            and buffers every family skips).
        pooler: the pooler's weight names (may be missing: random pooler, warning).
        family: the `model_type` named in messages.
        source: the checkpoint named in messages.
        strict: a checkpoint without pooler weights is an error, not a warning (when
            `needs_pooler`).
        needs_pooler: the model reads the pooled output; False (a task head that never
            reads it, e.g. RoBERTa's classifier or any tagger) lets `strict` accept a
            checkpoint without a pooler, as transformers' task classes do.

    Returns:
        ({skipped name: why it is not a backbone weight}, whether the pooler is missing).

    Raises:
        CheckpointError: listing every missing, unexpected, shape-mismatched and
            non-float weight.
    """
    skipped = {n: skip_reason(n, skip) for n in state}
    skipped = {n: reason for n, reason in sorted(skipped.items()) if reason}
    missing = [n for n in shapes if n not in state]
    pooler = tuple(pooler)
    no_pooler = bool(pooler) and all(n in missing for n in pooler)
    if no_pooler:
        missing = [n for n in missing if n not in pooler]
    unexpected = sorted(n for n in state if n not in shapes and n not in skipped)
    mismatched = [f"{n}: checkpoint {tuple(state[n].shape)}, expected {tuple(shape)}"
                  for n, shape in shapes.items()
                  if n in state and tuple(state[n].shape) != tuple(shape)]
    wrong_type = [f"{n}: {state[n].dtype}" for n in shapes
                  if n in state and state[n].dtype.name not in FLOAT_DTYPES]
    if missing or unexpected or mismatched or wrong_type:
        raise CheckpointError(
            f"{source} does not match the {family} config. "
            f"Missing weights: {missing or 'none'}. "
            f"Unexpected weights: {unexpected or 'none'}. "
            f"Shape mismatches: {mismatched or 'none'}. "
            f"Non-float weights (a float parameter needs {'/'.join(FLOAT_DTYPES)}): "
            f"{wrong_type or 'none'}.")
    if no_pooler and strict and needs_pooler:
        raise CheckpointError(
            f"{source} has no pooler weights ({', '.join(pooler)}); strict=True refuses a "
            f"randomly initialised pooler.")
    return skipped, no_pooler


def check_weight_bytes(count, nbytes, source="Checkpoint"):
    """Refuse `count` parameters that the weight files (`nbytes` in all) cannot hold.

    Every parameter takes at least 2 bytes in a file (float16/bfloat16); more
    parameters than that means a config larger than its weights, or tensors
    sharing one storage (a crafted `.bin`), and is refused before allocating.
    """
    if 2 * count > nbytes:
        raise CheckpointError(
            f"{source}: the weights declare {count} parameters (at least {2 * count} bytes) "
            f"but the weight files hold {nbytes} bytes; its tensors share storage or the "
            f"config is larger than its weights.")


def set_hf_weights(backbone, state, strict=False, source="Checkpoint", needs_pooler=True,
                   report=None):
    """Assign a Hugging Face checkpoint's tensors to `backbone`.

    Args:
        backbone: a backbone (`BertBackbone`, `RobertaBackbone`, ...) built with the
            checkpoint's config.
        state: dict of weight name -> numpy array (`read_checkpoint`).
        strict: refuse non-finite values and a missing pooler instead of warning.
        source: the checkpoint named in messages.
        needs_pooler: False when nothing reads the pooled output: a missing pooler is then
            neither an error (even with `strict`) nor a warning (expected, at INFO).
        report: a `WeightReport` to record into (a task's load, which adds its head and
            finishes it); None: a report of this load alone, logged here.

    Raises:
        CheckpointError (a `ValueError`): listing every missing, unexpected,
            shape-mismatched and non-float weight; with `strict`, naming the tensors
            holding NaN or infinity. The family's pre-training heads
            (`backbone.skipped_prefixes`, e.g. BERT's `cls.predictions.*`), task heads
            (`classifier.*`, ...) and the `embeddings.position_ids` buffer are not used and
            reported as such (`WeightReport`); a checkpoint without the pooler keeps the
            pooler's random initialisation, reported as newly initialised (a warning when
            the pooled output is read, as transformers does). Tensors holding NaN or
            infinity are named in a warning.
    """
    own_report = report is None
    if own_report:
        report = WeightReport(source)
    state = normalize_names(state, backbone.hf_prefix, source)
    weights = weight_map(backbone)
    skipped, no_pooler = check_state(
        state, {n: w.hf_shape() for n, w in weights.items()}, backbone.skipped_prefixes,
        backbone.pooler_names, family_name(backbone), source, strict, needs_pooler)
    for name, reason in skipped.items():
        report.unused([name], reason, expected=True)
    if no_pooler:
        report.initialised(
            backbone.pooler_names,
            "the checkpoint has no pooler weights; nothing reads the pooled output"
            if not needs_pooler else
            "the checkpoint has no pooler weights; pooled_output uses a randomly "
            "initialised pooler", expected=not needs_pooler)
    values, non_finite = {}, []
    for name in weights:
        if name in state:
            values[name] = np.asarray(state[name], dtype=np.float32)
            if not np.isfinite(values[name]).all():
                non_finite.append(name)
    if non_finite:
        message = (f"{source} holds NaN or infinite values in {len(non_finite)} tensors: "
                   f"{', '.join(non_finite)}")
        if strict:
            raise CheckpointError(message + " (strict=True).")
        logger.warning("%s. Outputs depending on them will be NaN; pass strict=True to "
                       "refuse such checkpoints.", message)
    for name, value in values.items():
        weights[name].variable.assign(weights[name].to_keras(value))
    if own_report:
        report.finish(strict)


def get_hf_weights(backbone, prefix="", pooler=True):
    """The backbone's weights as Hugging Face float32 tensors.

    Args:
        backbone: a family backbone.
        prefix: prepended to every name (`"roberta."` in a task checkpoint).
        pooler: include the pooler's weights (task classes without a pooler leave it out).
    """
    import keras

    skip = () if pooler else tuple(backbone.pooler_names)
    return {prefix + name: np.ascontiguousarray(
                weight.to_hf(keras.ops.convert_to_numpy(weight.variable.value)),
                dtype=np.float32)
            for name, weight in weight_map(backbone).items() if name not in skip}


# === Presets ===

def is_keras_hub_preset(config):
    """True if a `config.json` dict is a keras-hub BertBackbone preset's."""
    return (isinstance(config, dict)
            and config.get("registered_name") in ("keras_hub>BertBackbone",
                                                  "keras_nlp>BertBackbone"))


# The most layers a checkpoint whose one stored layer serves every depth (ALBERT) may declare:
# nothing in its weights bounds the depth, and building the model costs time per layer.
MAX_SHARED_DEPTH = 1024

# Constructor arguments every family checks before its weights are read.
SIZE_ARGUMENTS = ("vocabulary_size", "num_layers", "num_heads", "hidden_size",
                  "intermediate_size", "max_sequence_length", "embedding_size")


def load_backbone(cls, preset, strict=False, needs_pooler=True, report=None, **overrides):
    """Implementation of the backbones' `from_preset` (see `EncoderBackbone.from_preset`).

    `preset` may be a `Preset` already read (a task's `from_preset` reads it once for the
    backbone, the head and the encoder). The config is checked, the weights read and checked
    against the config, and only then is the backbone allocated (docs/security.md).
    `report`: as in `set_hf_weights`.
    """
    preset = Preset.read(preset)
    directory, config, config_path = preset.directory, preset.config, preset.config_path
    if is_keras_hub_preset(config) and cls.model_type == "bert":
        return _load_keras_hub(cls, directory, config, overrides)
    validate_hf_config(config, config_path)
    try:
        kwargs = cls.hf_config_to_kwargs(config)
    except CheckpointError:
        raise
    except ValueError as e:
        raise CheckpointError(f"{config_path}: {e}") from e
    kwargs.update(overrides)
    validate_backbone_args(
        {k: kwargs[k] for k in SIZE_ARGUMENTS if kwargs.get(k) is not None},
        rates={k: kwargs[k] for k in ("dropout", "attention_dropout") if k in kwargs})
    nbytes = preset.nbytes
    state = normalize_names(preset.tensors, cls.hf_prefix, directory)
    # Sized from the config alone (O(1)), before the per-weight shapes (which grow with
    # num_layers) are listed and long before anything is allocated.
    stored_layers = 1 if cls.shares_layers else kwargs["num_layers"]
    if cls.shares_layers and kwargs["num_layers"] > MAX_SHARED_DEPTH:
        raise CheckpointError(
            f"{config_path}: num_hidden_layers={kwargs['num_layers']} is refused: one stored "
            f"layer serves every depth in this {cls.model_type} checkpoint, so its weights "
            f"cannot bound the depth; bertcls loads at most {MAX_SHARED_DEPTH}.")
    check_weight_bytes(declared_parameters(kwargs, stored_layers), nbytes,
                       f"{directory} (config.json)")
    shapes = cls.hf_shapes(kwargs)
    if shapes is not None:
        check_state(state, shapes, cls.skipped_prefixes, cls.pooler_names, cls.model_type,
                    directory, strict, needs_pooler)
        check_weight_bytes(sum(math.prod(s) for n, s in shapes.items() if n in state),
                           nbytes, directory)
    else:  # the family's shapes are checked once built; bound what the tensors claim now
        skip = tuple(cls.skipped_prefixes) + HEAD_PREFIXES
        check_weight_bytes(sum(math.prod(v.shape) for n, v in state.items()
                               if not n.startswith(skip) and n not in SKIPPED_NAMES),
                           nbytes, directory)
    backbone = cls(**kwargs)
    set_hf_weights(backbone, state, strict=strict, source=directory, needs_pooler=needs_pooler,
                   report=report)
    return backbone


def _load_keras_hub(cls, directory, config, overrides):
    """Convert a keras-hub BertBackbone preset into a `cls` backbone.

    keras-hub's BERT computes the tanh-approximate GELU and its presets were
    converted from Google's original TF checkpoints, which were trained with
    that same approximation, so `hidden_act` defaults to "gelu_pytorch_tanh"
    here to reproduce keras-hub's outputs (pass `hidden_act="gelu"` to
    override).
    """
    import keras_hub

    kh = config.get("config")
    if not isinstance(kh, dict):
        raise CheckpointError(
            f"{os.path.join(directory, 'config.json')} names a keras-hub BertBackbone but its "
            f"'config' is not an object.")
    source = keras_hub.models.BertBackbone.from_preset(directory)
    kwargs = dict(
        vocabulary_size=kh["vocabulary_size"], num_layers=kh["num_layers"],
        num_heads=kh["num_heads"], hidden_size=kh["hidden_dim"],
        intermediate_size=kh["intermediate_dim"], hidden_act="gelu_pytorch_tanh",
        dropout=kh.get("dropout", 0.1), attention_dropout=kh.get("dropout", 0.1),
        max_sequence_length=kh.get("max_sequence_length", 512),
        type_vocab_size=kh.get("num_segments", 2), layer_norm_epsilon=1e-12)
    kwargs.update(overrides)
    backbone = cls(**kwargs)
    pairs = [
        (source.token_embedding, backbone.token_embedding),
        (source.position_embedding, backbone.position_embedding),
        (source.segment_embedding, backbone.token_type_embedding),
        (source.embeddings_layer_norm, backbone.embeddings_layer_norm),
        *zip(source.transformer_layers, backbone.transformer_layers),
        (source.pooled_dense, backbone.pooler_dense),
    ]
    for src, dst in pairs:
        src_weights, dst_weights = src.weights, dst.weights
        if [tuple(w.shape) for w in src_weights] != [tuple(w.shape) for w in dst_weights]:
            raise ValueError(
                f"keras-hub layer {src.name} does not match {dst.name}: "
                f"{[w.path for w in src_weights]} vs {[w.path for w in dst_weights]}.")
        for s, d in zip(src_weights, dst_weights):
            d.assign(s.value)
    return backbone


# === Writing back ===

def save_backbone(backbone, directory, encoder=None):
    """Implementation of the backbones' `save_pretrained`."""
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(backbone.to_hf_config(), f, indent=2, sort_keys=True)
    save_file(get_hf_weights(backbone), os.path.join(directory, "model.safetensors"),
              metadata={"format": "pt"})
    if encoder is not None:
        save_tokenizer(encoder, directory, model_max_length=backbone.max_input_length)
    return directory


def save_tokenizer(encoder, directory, model_max_length=512):
    """Write `vocab.txt` and `tokenizer_config.json` for transformers' BertTokenizer.

    Args:
        encoder: a `bertcls.FeatureEncoder` (its vocabulary and normalisation
            settings are written), a list of tokens, or the path of a
            `vocab.txt`. For a bare vocabulary, `do_lower_case` is True when
            no token has an upper-case letter (an uncased vocabulary).
        directory: output directory.
        model_max_length: written to `tokenizer_config.json`.
    """
    if hasattr(encoder, "vocabulary") and hasattr(encoder, "lowercase"):
        vocabulary = list(encoder.vocabulary)
        settings = {
            "do_lower_case": encoder.lowercase,
            "strip_accents": encoder.strip_accents,
            "tokenize_chinese_chars": encoder.tokenize_chinese_chars,
            "unk_token": encoder.unk_token, "sep_token": encoder.sep_token,
            "pad_token": encoder.pad_token, "cls_token": encoder.cls_token,
            "mask_token": encoder.mask_token,
        }
    elif isinstance(encoder, (list, tuple)) or isinstance(encoder, (str, os.PathLike)):
        if isinstance(encoder, (str, os.PathLike)):
            with open(encoder, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f if line.rstrip("\n")]
        else:
            vocabulary = list(encoder)
        settings = {"do_lower_case": not any(t != t.lower() for t in vocabulary
                                             if not (t.startswith("[") and t.endswith("]")))}
    else:
        raise ValueError(
            f"encoder must be a FeatureEncoder, a list of tokens or the path of a "
            f"vocab.txt; received {type(encoder).__name__}.")
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token in vocabulary))
    settings.update(tokenizer_class="BertTokenizer", model_max_length=model_max_length)
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2, sort_keys=True)
