"""Checking model configurations before anything is built or allocated.

Small reusable checks: a Hugging Face `config.json` (read and type-checked), the
backbone constructor's arguments, and whether a tokenizer fits a backbone. Each
raises with the file (or argument) and the value it refuses; model families
call them with their own key lists.
"""

import json
import math
import numbers
import os

from bertcls.models.errors import CheckpointError

# Hugging Face config keys bertcls reads, by the type they must have.
HF_POSITIVE_INT_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                        "intermediate_size", "max_position_embeddings", "type_vocab_size")
HF_RATE_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob")
HF_POSITIVE_FLOAT_KEYS = ("layer_norm_eps",)
HF_NON_NEGATIVE_FLOAT_KEYS = ("initializer_range",)
HF_STRING_KEYS = ("model_type", "hidden_act", "position_embedding_type")
HF_BOOL_KEYS = ("is_decoder", "add_cross_attention")


def read_json_object(path, what="file"):
    """Read a JSON file that must hold an object (a dict).

    Args:
        path: the file.
        what: what the file is, for the message (e.g. `"config"`).

    Returns:
        The dict.

    Raises:
        CheckpointError: the file cannot be read, is not valid UTF-8 JSON, or
            holds something other than an object; the message names the file.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> _ = open(path, "w").write('{"hidden_size": 8}')
    >>> read_json_object(path)
    {'hidden_size': 8}
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(
            f"Cannot read {what} {path}: {type(e).__name__}: {e}. Expected a UTF-8 JSON "
            f"object.") from e
    if not isinstance(value, dict):
        raise CheckpointError(
            f"{what.capitalize()} {path} must hold a JSON object, it holds a "
            f"{type(value).__name__}.")
    return value


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def validate_hf_config(config, source="config.json", int_keys=HF_POSITIVE_INT_KEYS,
                       rate_keys=HF_RATE_KEYS):
    """Type- and range-check the Hugging Face config values a backbone reads.

    Checks only the keys present (the caller decides which are required):
    sizes are positive integers (not `768.0`, not `true`), dropout
    probabilities lie in [0, 1), `layer_norm_eps` is a positive number,
    `initializer_range` a non-negative number, names are strings, flags are
    booleans, and `hidden_size` is a multiple of `num_attention_heads`.

    Args:
        config: the dict read from `config.json`.
        source: the file (or a description) named in errors.
        int_keys: keys that must be positive integers.
        rate_keys: keys that must be probabilities in [0, 1).

    Raises:
        CheckpointError: naming `source`, the key and the value.

    Example:

    >>> try:
    ...     validate_hf_config({"hidden_size": 8, "num_attention_heads": 3})
    ... except CheckpointError as e:
    ...     print(e)
    config.json: hidden_size (8) must be a multiple of num_attention_heads (3).
    """
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{source}: a Hugging Face config must be a dict (a JSON object), received "
            f"{type(config).__name__}.")
    problems = []
    for key in int_keys:
        if key in config and not (_is_int(config[key]) and config[key] >= 1):
            problems.append(f"{key} must be a positive integer, received {config[key]!r}")
    for key in rate_keys:
        if key in config and not (_is_real(config[key]) and 0 <= config[key] < 1):
            problems.append(f"{key} must be a number in [0, 1), received {config[key]!r}")
    for key in HF_POSITIVE_FLOAT_KEYS:
        if key in config and not (_is_real(config[key]) and config[key] > 0):
            problems.append(f"{key} must be a positive number, received {config[key]!r}")
    for key in HF_NON_NEGATIVE_FLOAT_KEYS:
        if key in config and not (_is_real(config[key]) and config[key] >= 0):
            problems.append(f"{key} must be a non-negative number, received {config[key]!r}")
    for key in HF_STRING_KEYS:
        if key in config and not isinstance(config[key], str):
            problems.append(f"{key} must be a string, received {config[key]!r}")
    for key in HF_BOOL_KEYS:
        if key in config and not isinstance(config[key], bool):
            problems.append(f"{key} must be true or false, received {config[key]!r}")
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems) + ".")
    hidden, heads = config.get("hidden_size"), config.get("num_attention_heads")
    if hidden is not None and heads is not None and hidden % heads:
        raise CheckpointError(
            f"{source}: hidden_size ({hidden}) must be a multiple of num_attention_heads "
            f"({heads}).")


def validate_backbone_args(sizes, rates=None, epsilon=None, initializer_range=None):
    """Check a backbone constructor's arguments; `ValueError` naming the first bad one.

    Args:
        sizes: dict of argument name -> value that must be a positive integer.
        rates: dict of argument name -> dropout rate that must lie in [0, 1).
        epsilon: the LayerNorm epsilon, a positive number (None: not checked).
        initializer_range: a non-negative number (None: not checked).

    Example:

    >>> validate_backbone_args({"num_layers": 2}, rates={"dropout": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: dropout must be a number in [0, 1), received 1.0.
    """
    for name, value in sizes.items():
        if not (_is_int(value) and value >= 1):
            raise ValueError(f"{name} must be a positive int, received {value!r}.")
    for name, value in (rates or {}).items():
        if not (_is_real(value) and 0 <= value < 1):
            raise ValueError(f"{name} must be a number in [0, 1), received {value!r}.")
    if epsilon is not None and not (_is_real(epsilon) and epsilon > 0):
        raise ValueError(f"layer_norm_epsilon must be a positive number, received {epsilon!r}.")
    if initializer_range is not None and not (
            _is_real(initializer_range) and initializer_range >= 0):
        raise ValueError(
            f"initializer_range must be a non-negative number, received "
            f"{initializer_range!r}.")


def check_encoder_fits_backbone(encoder, backbone):
    """Refuse a tokenizer whose ids or lengths the backbone has no embeddings for.

    An id at or past `vocabulary_size` has no row in the embedding table (on
    JAX the lookup silently gives NaN), and a sequence longer than
    `max_sequence_length` has no position embedding.

    Args:
        encoder: a feature encoder (`vocabulary_size`, `max_seq_len`) or None.
        backbone: a backbone (`vocabulary_size`, `max_sequence_length`).

    Raises:
        ValueError: naming both sizes and what to do.

    Example:

    >>> from types import SimpleNamespace as Obj
    >>> try:
    ...     check_encoder_fits_backbone(Obj(vocabulary_size=12, max_seq_len=8),
    ...                                 Obj(vocabulary_size=10, max_sequence_length=8))
    ... except ValueError as e:
    ...     print(str(e)[:64])
    The tokenizer has 12 tokens (ids up to 11) but the backbone's vo
    """
    if encoder is None:
        return
    tokens = getattr(encoder, "vocabulary_size", None)
    rows = getattr(backbone, "vocabulary_size", None)
    if _is_int(tokens) and _is_int(rows) and tokens > rows:
        raise ValueError(
            f"The tokenizer has {tokens} tokens (ids up to {tokens - 1}) but the backbone's "
            f"vocabulary_size is {rows}: ids {rows} to {tokens - 1} have no embedding. Use "
            f"the tokenizer that belongs to the checkpoint (or a backbone with "
            f"vocabulary_size >= {tokens}).")
    length = getattr(encoder, "max_seq_len", None)
    positions = getattr(backbone, "max_sequence_length", None)
    # RoBERTa-style positions start after the padding id: fewer tokens than positions fit.
    limit = getattr(backbone, "max_input_length", positions)
    limit = limit if _is_int(limit) else positions
    if _is_int(length) and _is_int(positions) and length > limit:
        offset = ("" if limit == positions else
                  f", of which {limit} hold tokens after the padding offset")
        raise ValueError(
            f"The encoder's max_seq_len ({length}) exceeds the backbone's "
            f"max_sequence_length ({positions}, `max_position_embeddings`{offset}): longer "
            f"inputs have no position embedding. Use max_seq_len <= {limit}.")
