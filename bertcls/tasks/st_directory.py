"""Reading a sentence-transformers model directory: `modules.json`, the Transformer module's
`sentence_bert_config.json`, the Pooling module's `config.json`, Normalize.

Only the module chain Transformer -> Pooling -> (Normalize) is understood; any other module
(Dense, LayerNorm, a custom class) is an error naming it, because dropping it would give
different embeddings without a word.
"""

import json
import os

from bertcls.hub import HUB_ALLOW_PATTERNS
from bertcls.tasks.pooling import POOLING_MODES

# The files a sentence-transformers directory adds; module folders may hold the Transformer
# files too (`0_Transformer/config.json` in older models).
ST_ALLOW_PATTERNS = HUB_ALLOW_PATTERNS + (
    "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
    "*/config.json", "*/sentence_bert_config.json") + tuple(
        "*/" + pattern for pattern in HUB_ALLOW_PATTERNS if pattern != "config.json")

LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read the {what} {path}: {e}") from e


def _module_kind(module, path):
    kind = module.get("type") if isinstance(module, dict) else None
    if not isinstance(kind, str) or not isinstance(module.get("path", ""), str):
        raise ValueError(
            f"{path}: every module needs a string `type` and `path`, received {module!r}.")
    name = kind.rsplit(".", 1)[-1]
    if name not in ("Transformer", "Pooling", "Normalize"):
        raise ValueError(
            f"{path}: module type {kind!r} is not supported; bertcls reads sentence-transformers "
            "models made of Transformer, Pooling and (optionally) Normalize modules.")
    return name


def _pooling_from_config(config, path):
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object, received {type(config).__name__}.")
    if "pooling_mode" in config:  # sentence-transformers >= 6
        modes = config["pooling_mode"]
        modes = [modes] if isinstance(modes, str) else modes
    else:  # legacy boolean keys; all False means mean, as sentence-transformers reads it
        for key in LEGACY_POOLING_KEYS:
            if key in config and not isinstance(config[key], bool):
                raise ValueError(f"{path}: `{key}` must be true or false, received "
                                 f"{config[key]!r}.")
        modes = [mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    if not isinstance(modes, list) or not modes or any(m not in POOLING_MODES for m in modes):
        raise ValueError(
            f"{path}: pooling mode must be one of {POOLING_MODES} or a list of them, received "
            f"{config.get('pooling_mode', modes)!r}.")
    dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if dimension is not None and (isinstance(dimension, bool) or not isinstance(dimension, int)):
        raise ValueError(f"{path}: the embedding dimension must be an integer, received "
                         f"{dimension!r}.")
    return (modes[0] if len(modes) == 1 else modes), dimension


def read_sentence_transformers(directory):
    """The settings of a sentence-transformers directory, or None if it has no `modules.json`.

    Returns:
        dict with `transformer_dir` (where the BERT `config.json`, weights and vocabulary
        are), `pooling` (a mode or a list of modes), `normalize` (bool), `max_seq_len`
        (`sentence_bert_config.json`'s `max_seq_length`, or None), `lowercase`
        (its `do_lower_case`), and `embedding_dimension` (the Pooling config's, or None).

    Raises:
        ValueError: a file cannot be read, or the module chain is not Transformer ->
            Pooling -> (Normalize); the message names the file.
    """
    modules_path = os.path.join(directory, "modules.json")
    if not os.path.isfile(modules_path):
        return None
    modules = _read_json(modules_path, "sentence-transformers module list")
    if not isinstance(modules, list) or not modules:
        raise ValueError(f"{modules_path} must hold a non-empty JSON list of modules.")
    kinds = [_module_kind(module, modules_path) for module in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ValueError(
            f"{modules_path}: modules {kinds} are not supported; bertcls reads Transformer, "
            "Pooling and an optional Normalize, in that order.")
    root = os.path.realpath(directory)

    def module_dir(module):
        path = os.path.realpath(os.path.join(directory, module.get("path", "")))
        if os.path.commonpath([root, path]) != root:
            raise ValueError(f"{modules_path}: module path {module.get('path')!r} points "
                             "outside the model directory.")
        return path

    transformer_dir = module_dir(modules[0])
    settings = {"transformer_dir": transformer_dir, "max_seq_len": None, "lowercase": False}
    st_config_path = os.path.join(transformer_dir, "sentence_bert_config.json")
    if os.path.isfile(st_config_path):
        st_config = _read_json(st_config_path, "Transformer module config")
        if not isinstance(st_config, dict):
            raise ValueError(f"{st_config_path} must hold a JSON object.")
        max_len = st_config.get("max_seq_length")
        if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int)
                                    or max_len < 2):
            raise ValueError(f"{st_config_path}: `max_seq_length` must be an integer >= 2, "
                             f"received {max_len!r}.")
        lowercase = st_config.get("do_lower_case", False)
        if not isinstance(lowercase, bool):
            raise ValueError(f"{st_config_path}: `do_lower_case` must be true or false, "
                             f"received {lowercase!r}.")
        settings.update(max_seq_len=max_len, lowercase=lowercase)
    pooling_path = os.path.join(module_dir(modules[1]), "config.json")
    if not os.path.isfile(pooling_path):
        raise ValueError(f"The Pooling module's config {pooling_path} is missing.")
    pooling, dimension = _pooling_from_config(
        _read_json(pooling_path, "Pooling module config"), pooling_path)
    settings.update(pooling=pooling, embedding_dimension=dimension,
                    normalize=len(modules) == 3)
    return settings


def write_sentence_transformers(directory, pooling, normalize, embedding_dimension,
                                max_seq_len=None):
    """Write the sentence-transformers files of a Transformer -> Pooling -> (Normalize) model
    whose Transformer files (`config.json`, weights, tokenizer) are in `directory` itself:
    `modules.json`, `sentence_bert_config.json`, `1_Pooling/config.json` (sentence-transformers
    6's `pooling_mode` / `embedding_dimension`) and `2_Normalize/`. `read_sentence_transformers`
    reads them back.

    Args:
        directory: the model directory (exists).
        pooling: a pooling mode or a list of them (concatenated, in that order).
        normalize: add the Normalize module.
        embedding_dimension: the token vectors' width (the backbone's hidden size).
        max_seq_len: `max_seq_length` (None: left out).
    """
    modules = [{"idx": 0, "name": "0", "path": "",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(directory, "2_Normalize"), exist_ok=True)
    os.makedirs(os.path.join(directory, "1_Pooling"), exist_ok=True)
    files = {
        "modules.json": modules,
        "sentence_bert_config.json": dict(
            {"do_lower_case": False},
            **({"max_seq_length": int(max_seq_len)} if max_seq_len is not None else {})),
        os.path.join("1_Pooling", "config.json"): {
            "embedding_dimension": int(embedding_dimension),
            "pooling_mode": pooling if isinstance(pooling, str) else list(pooling),
            "include_prompt": True},
    }
    for name, content in files.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
    return directory
