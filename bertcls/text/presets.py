"""Picking the feature encoder a Hugging Face tokenizer directory asks for."""

import json
import os

from bertcls.hub import resolve_preset
from bertcls.text.feature_encoder import FeatureEncoder
from bertcls.text.sentencepiece_encoder import SentencePieceEncoder

# SentencePiece model file names, in the order transformers' tokenizers look for them, then
# monologg's KoBertTokenizer's (monologg/kobert, monologg/distilkobert; ids from vocab.txt).
MONOLOGG_KOBERT_FILE = "tokenizer_78b3253a26.model"
SENTENCEPIECE_FILES = ("sentencepiece.bpe.model", "spiece.model", "tokenizer.model",
                       MONOLOGG_KOBERT_FILE)
# tokenizer_class / model_type -> SentencePieceEncoder layout.
_LAYOUTS = {
    "XLMRobertaTokenizer": "xlm-roberta", "XLMRobertaTokenizerFast": "xlm-roberta",
    "AlbertTokenizer": "albert", "AlbertTokenizerFast": "albert",
    "xlm-roberta": "xlm-roberta", "albert": "albert",
    "KoBERTTokenizer": "kobert", "KoBertTokenizer": "kobert",
}
# XLNetTokenizer with a BERT-family model is KoBERT's tokenizer (skt/kobert-base-v1).
_XLNET_CLASSES = ("XLNetTokenizer", "XLNetTokenizerFast")
_KOBERT_MODEL_TYPES = (None, "bert", "distilbert")
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


def encoder_from_preset(preset, model_config=None, **overrides):
    """The feature encoder for a Hugging Face checkpoint directory or Hub id.

    `vocab.txt` (and a BERT-family `tokenizer_class`) gives a `FeatureEncoder`;
    `sentencepiece.bpe.model`, `spiece.model` or `tokenizer.model` gives a
    `SentencePieceEncoder` whose layout follows `tokenizer_config.json`'s `tokenizer_class`
    (`XLMRobertaTokenizer`, `AlbertTokenizer`), else `config.json`'s `model_type`
    (`xlm-roberta`, `albert`), else the file name (`sentencepiece.bpe.model` is XLM-R's).
    ALBERT reads `do_lower_case` (default True) and `keep_accents` (default False), as
    transformers does; the special tokens come from `tokenizer_config.json` when it names them.

    KoBERT: `XLNetTokenizer` with a `spiece.model` and a BERT or DistilBERT `config.json`
    (skt/kobert-base-v1), or `tokenizer_78b3253a26.model` + `vocab.txt` (monologg/kobert,
    monologg/distilkobert, ids from `vocab.txt`), gives `layout="kobert"`, reading
    `do_lower_case` (default False), `keep_accents` (default False) and `remove_space`
    (default True). `layout="kobert"` among the overrides forces it for any directory with a
    SentencePiece model.

    Args:
        preset: a local directory or a Hub id.
        model_config: the `config.json` dict when the caller has read it already (a task's
            `from_preset`, which reads it once); None: read here.
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
    return encoder_from_directory(resolve_preset(preset), model_config, **overrides)


def encoder_from_directory(directory, model_config=None, **overrides):
    """`encoder_from_preset` on a local directory already resolved (nothing is fetched); a
    task's `from_preset` passes the `config.json` dict it read too."""
    preset = directory
    config = _read_json(os.path.join(directory, "tokenizer_config.json"))
    if model_config is None:
        model_config = _read_json(os.path.join(directory, "config.json"))
    tokenizer_class = config.get("tokenizer_class")
    model_type = model_config.get("model_type")
    spm_file = next((os.path.join(directory, name) for name in SENTENCEPIECE_FILES
                     if os.path.isfile(os.path.join(directory, name))), None)
    has_vocab = os.path.isfile(os.path.join(directory, "vocab.txt"))
    # monologg's KoBERT directories hold SentencePiece pieces in vocab.txt, whatever
    # tokenizer_class says (its README loads them with KoBertTokenizer).
    monologg = spm_file is not None and os.path.basename(spm_file) == MONOLOGG_KOBERT_FILE
    if has_vocab and not monologg and (spm_file is None
                                       or tokenizer_class in _WORDPIECE_CLASSES):
        return FeatureEncoder.from_directory(directory, **overrides)
    if spm_file is None:
        raise ValueError(
            f"Preset {preset!r} has no tokenizer files (looked in {directory} for vocab.txt, "
            f"{', '.join(SENTENCEPIECE_FILES)}).")
    layout = overrides.get("layout") or _LAYOUTS.get(tokenizer_class) or _LAYOUTS.get(
        model_type)
    if layout is None and (monologg or (tokenizer_class in _XLNET_CLASSES
                                        and model_type in _KOBERT_MODEL_TYPES)):
        layout = "kobert"
    if layout is None and tokenizer_class is None and spm_file.endswith(
            "sentencepiece.bpe.model"):
        layout = "xlm-roberta"
    if layout is None:
        raise ValueError(
            f"Preset {preset!r} has a SentencePiece model ({os.path.basename(spm_file)}) with "
            f"tokenizer_class={tokenizer_class!r}, model_type={model_type!r}; "
            f"SentencePieceEncoder reproduces XLMRobertaTokenizer, AlbertTokenizer and "
            f"KoBERT's XLNetTokenizer (with a BERT or DistilBERT model); pass layout=... to "
            f"choose one.")
    kwargs = {"model": spm_file, "layout": layout}
    if layout == "albert":
        kwargs["lowercase"] = bool(config.get("do_lower_case", True))
        kwargs["keep_accents"] = bool(config.get("keep_accents", False))
    if layout == "kobert":
        for key, name, default in (("do_lower_case", "lowercase", False),
                                   ("keep_accents", "keep_accents", False),
                                   ("remove_space", "remove_space", True)):
            value = config.get(key, default)
            if not isinstance(value, bool):
                raise ValueError(
                    f"{os.path.join(directory, 'tokenizer_config.json')}: {key} must be true or "
                    f"false, received {value!r}.")
            kwargs[name] = value
        vocab_file = os.path.join(directory, "vocab.txt")
        if monologg and os.path.isfile(vocab_file):
            kwargs["vocabulary"] = vocab_file
    for name in ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token"):
        token = _token(config, name)
        if token is not None:
            kwargs[name] = token
    kwargs.update(overrides)
    return SentencePieceEncoder(**kwargs)
