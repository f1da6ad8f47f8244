"""Reading `tokenizer_config.json` with every value type-checked.

JSON has real booleans; a `"false"` string or a list where an object belongs is
a mistake in the file, and is refused with the file and key named instead of
being coerced (`bool("false")` is True).
"""

import json
import os

from bertcls.hub import PresetError

BOOL_KEYS = ("do_lower_case", "tokenize_chinese_chars")
OPTIONAL_BOOL_KEYS = ("strip_accents",)  # null means "follow do_lower_case"
TOKEN_KEYS = ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")


def read_tokenizer_config(path):
    """The WordPiece settings of a `tokenizer_config.json`, type-checked.

    Args:
        path: the file.

    Returns:
        dict with the keys present among `do_lower_case`,
        `tokenize_chinese_chars`, `strip_accents` and the special tokens
        (an `AddedToken` object is reduced to its `content`; a null token
        is left out, so the default applies). Other keys are ignored.

    Raises:
        bertcls.PresetError: the file is not valid UTF-8 JSON, is not an
            object, or a value has the wrong type (naming file, key, value).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tokenizer_config.json")
    >>> _ = open(path, "w").write('{"do_lower_case": false, "unk_token": {"content": "[UNK]"}}')
    >>> read_tokenizer_config(path)
    {'do_lower_case': False, 'unk_token': '[UNK]'}
    >>> _ = open(path, "w").write('{"do_lower_case": "false"}')
    >>> try:
    ...     read_tokenizer_config(path)
    ... except ValueError as e:
    ...     print(str(e).split(": ", 1)[1])
    do_lower_case must be true or false (a JSON boolean), received 'false'.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise PresetError(
            f"Cannot read {path}: {type(e).__name__}: {e}. Expected a UTF-8 JSON object.") from e
    if not isinstance(config, dict):
        raise PresetError(
            f"{path} must hold a JSON object (key: value settings), it holds a "
            f"{type(config).__name__}.")
    settings = {}
    for key in BOOL_KEYS + OPTIONAL_BOOL_KEYS:
        if key not in config:
            continue
        value = config[key]
        if not (isinstance(value, bool) or (value is None and key in OPTIONAL_BOOL_KEYS)):
            allowed = "true, false or null" if key in OPTIONAL_BOOL_KEYS else "true or false"
            raise PresetError(
                f"{path}: {key} must be {allowed} (a JSON boolean), received {value!r}.")
        settings[key] = value
    for key in TOKEN_KEYS:
        value = config.get(key)
        if isinstance(value, dict):  # a serialised AddedToken
            value = value.get("content")
            if not isinstance(value, str):
                raise PresetError(
                    f"{path}: {key} is an object without a string 'content', received "
                    f"{config[key]!r}.")
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise PresetError(
                f"{path}: {key} must be a non-empty string (or an AddedToken object), "
                f"received {value!r}.")
        settings[key] = value
    return settings
