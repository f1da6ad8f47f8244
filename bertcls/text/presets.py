"""Picking the feature encoder a Hugging Face tokenizer directory asks for."""

import json
import os

from bertcls.hub import resolve_preset
from bertcls.text.feature_encoder import FeatureEncoder
from bertcls.text.sentencepiece_encoder import SentencePieceEncoder

# SentencePiece model file names, in the order transformers' tokenizers look for them.
SENTENCEPIECE_FILES = ("sentencepiece.bpe.model", "spiece.model", "tokenizer.model")
# tokenizer_class / model_type -> SentencePieceEncoder layout.
_LAYOUTS = {
    "XLMRobertaTokenizer": "xlm-roberta", "XLMRobertaTokenizerFast": "xlm-roberta",
    "AlbertTokenizer": "albert", "AlbertTokenizerFast": "albert",
    "xlm-roberta": "xlm-roberta", "albert": "albert",
}
_WORDPIECE_CLASSES = ("BertTokenizer", "BertTokenizerFast", "ElectraTokenizer",
                      "ElectraTokenizerFast", "DistilBertTokenizer", "DistilBertTokenizerFast")


def _read_json(path):
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, it holds {type(data).__name__}.")
    return data


def _token(config, name):
    token = config.get(name)
    if isinstance(token, dict):  # a serialised AddedToken
        token = token.get("content")
    return token if isinstance(token, str) and token else None


def encoder_from_preset(preset, **overrides):
    """The feature encoder for a Hugging Face checkpoint directory or Hub id.

    `vocab.txt` (and a BERT-family `tokenizer_class`) gives a `FeatureEncoder`;
    `sentencepiece.bpe.model`, `spiece.model` or `tokenizer.model` gives a
    `SentencePieceEncoder` whose layout follows `tokenizer_config.json`'s `tokenizer_class`
    (`XLMRobertaTokenizer`, `AlbertTokenizer`), else `config.json`'s `model_type`
    (`xlm-roberta`, `albert`), else the file name (`sentencepiece.bpe.model` is XLM-R's).
    ALBERT reads `do_lower_case` (default True) and `keep_accents` (default False), as
    transformers does; the special tokens come from `tokenizer_config.json` when it names them.

    Args:
        preset: a local directory or a Hub id.
        **overrides: constructor arguments that replace what the files say (`max_seq_len`,
            `padding`, ...).

    Returns:
        A `FeatureEncoder` or a `SentencePieceEncoder`.

    Raises:
        ValueError: no tokenizer files, or a tokenizer this library does not reproduce (named).

    Example:

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "vocab.txt").write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhello\\n")
    >>> type(encoder_from_preset(d, max_seq_len=16)).__name__
    'FeatureEncoder'
    """
    directory = resolve_preset(preset)
    config = _read_json(os.path.join(directory, "tokenizer_config.json"))
    model_config = _read_json(os.path.join(directory, "config.json"))
    tokenizer_class = config.get("tokenizer_class")
    model_type = model_config.get("model_type")
    spm_file = next((os.path.join(directory, name) for name in SENTENCEPIECE_FILES
                     if os.path.isfile(os.path.join(directory, name))), None)
    has_vocab = os.path.isfile(os.path.join(directory, "vocab.txt"))
    if has_vocab and (spm_file is None or tokenizer_class in _WORDPIECE_CLASSES):
        return FeatureEncoder.from_preset(directory, **overrides)
    if spm_file is None:
        raise ValueError(
            f"Preset {preset!r} has no tokenizer files (looked in {directory} for vocab.txt, "
            f"{', '.join(SENTENCEPIECE_FILES)}).")
    layout = _LAYOUTS.get(tokenizer_class) or _LAYOUTS.get(model_type)
    if layout is None and tokenizer_class is None and spm_file.endswith(
            "sentencepiece.bpe.model"):
        layout = "xlm-roberta"
    if layout is None:
        raise ValueError(
            f"Preset {preset!r} has a SentencePiece model ({os.path.basename(spm_file)}) with "
            f"tokenizer_class={tokenizer_class!r}, model_type={model_type!r}; "
            f"SentencePieceEncoder reproduces XLMRobertaTokenizer and AlbertTokenizer.")
    kwargs = {"model": spm_file, "layout": layout}
    if layout == "albert":
        kwargs["lowercase"] = bool(config.get("do_lower_case", True))
        kwargs["keep_accents"] = bool(config.get("keep_accents", False))
    for name in ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token"):
        token = _token(config, name)
        if token is not None:
            kwargs[name] = token
    kwargs.update(overrides)
    return SentencePieceEncoder(**kwargs)
