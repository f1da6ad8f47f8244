"""What every text path accepts: a list of strings, or sentence pairs as a tuple
`(texts_a, texts_b)` of two equally long lists (the `FeatureEncoder`'s own convention).

One set of checks and one error, `TextInputError` (both a `TypeError` and a `ValueError`),
whose message names the argument, what it received and what it accepts; every public entry
point that takes text calls these before any work (`predict_text(s)`, `embed`, `search`,
`predict_answers`, `encode_texts`, `make_dataset`, the encoder layers).
"""

import numpy as np

PAIR_HINT = ("For sentence pairs pass a tuple of two lists, (texts_a, texts_b), not a list "
             "of pairs.")
TEXTS = "a list of strings, or a tuple (texts_a, texts_b) of two lists of strings"
TEXT = "one string, or a tuple (text_a, text_b) of two strings"


class TextInputError(TypeError, ValueError):
    """Text input of the wrong kind (None, a number, bytes, nested lists, a non-string
    array). Both a `TypeError` and a `ValueError`, so either `except` catches it."""


def received(value):
    """A short description of `value` for error messages.

    >>> received(None), received(3), received(b"ab"), received(np.array([1, 2]))
    ('None', 'int 3', "bytes b'ab'", 'a numpy array of dtype int64, shape (2,)')
    """
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype}, shape {value.shape}"
    if isinstance(value, (str, bytes, bool, int, float, complex, np.generic)):
        text = repr(value)
        return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"
    return type(value).__name__


def refuse(what, value, accepts, hint="", where=""):
    """Raise the one error for text input of the wrong kind: `[where: ]`what` must be
    accepts, received ...`."""
    if not hint and isinstance(value, (bytes, np.bytes_)):
        hint = " Decode bytes to str first (e.g. value.decode('utf-8'))."
    where = f"{where}: " if where else ""
    raise TextInputError(
        f"{where}`{what}` must be {accepts}, received {received(value)}.{hint}")


ENCODER_INPUT = ("a string, a list (or 1-D array) of strings, a string tensor, or a tuple "
                 "(texts_a, texts_b) of two of them")


def check_encoder_strings(value, where):
    """The Python / numpy input of an encoder layer (`where`: its class name), one half of a
    pair at a time. Bytes are TensorFlow's own strings (UTF-8) and pass; tensors are checked
    by the layer.

    >>> check_encoder_strings([["a"]], "FeatureEncoder")
    Traceback (most recent call last):
    ...
    bertcls.text.inputs.TextInputError: FeatureEncoder: `inputs` must hold strings; item 0 \
is list (['a']). For sentence pairs pass a tuple of two lists, (texts_a, texts_b), not a \
list of pairs.
    """
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "USO":
            refuse("inputs", value, ENCODER_INPUT, where=where)
        items = value.ravel().tolist() if value.dtype.kind == "O" else []
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        refuse("inputs", value, ENCODER_INPUT, where=where)
    for i, item in enumerate(items):
        if not isinstance(item, (str, bytes, np.str_, np.bytes_)):
            hint = PAIR_HINT if isinstance(item, (list, tuple)) else ""
            raise TextInputError(
                f"{where}: `inputs` must hold strings; item {i} is {type(item).__name__} "
                f"({str(repr(item))[:40]}). {hint}".rstrip())


def check_text_batch(texts, what="texts", accepts=TEXTS):
    """Refuse, before any other work, what can never be a batch of texts: None, a number,
    bytes, a single string (with the hint to wrap it), a dict, a non-string array.
    `accepts` says what is accepted (sentence pairs or not)."""
    if isinstance(texts, str):
        raise TextInputError(
            f"`{what}` must be {accepts}, received a single string ({texts[:40]!r}); wrap it "
            f"in a list.")
    if isinstance(texts, np.ndarray):
        if texts.dtype.kind not in "UO" or texts.ndim != 1:
            refuse(what, texts, accepts + " (a numpy array of str, 1-D)")
        return
    if texts is None or isinstance(texts, (bytes, bool, int, float, complex, np.generic, dict)) \
            or not hasattr(texts, "__iter__"):
        refuse(what, texts, accepts)


def text_columns(texts, what="texts", allow_empty=True):
    """Check `texts` and return `(columns, pair)`: a list of one column (single texts) or two
    (pairs) of Python strings, all of one length, and whether they are pairs.

    Args:
        texts: a list (or numpy array, pandas Series, any iterable) of strings, or a tuple
            `(texts_a, texts_b)` of two of them for sentence pairs.
        what: the argument's name, for error messages.
        allow_empty: when False, empty or whitespace-only strings raise (training data:
            they would train on `[CLS] [SEP]` alone).

    Example:

    >>> text_columns(["a b", "c"])
    ([['a b', 'c']], False)
    >>> text_columns((["a", "b"], ["c", "d"]))
    ([['a', 'b'], ['c', 'd']], True)
    >>> text_columns([("a", "c")])
    Traceback (most recent call last):
    ...
    bertcls.text.inputs.TextInputError: `texts` must hold strings; item 0 is tuple \
(('a', 'c')). For sentence pairs pass a tuple of two lists, (texts_a, texts_b), not a list of \
pairs.
    """
    check_text_batch(texts, what)
    if isinstance(texts, tuple):
        if len(texts) != 2:
            raise ValueError(
                f"Sentence pairs are a tuple (texts_a, texts_b); `{what}` is a tuple of "
                f"{len(texts)} items. Pass a list for single texts.")
        if any(isinstance(t, (str, bytes)) for t in texts):
            raise ValueError(
                f"`{what}` is a tuple holding strings: a batch of sentence pairs is a tuple "
                "of two lists (texts_a, texts_b); one pair goes to predict_text as (a, b).")
        columns = [_column(t, f"{what}[{i}]", allow_empty) for i, t in enumerate(texts)]
        if len(columns[0]) != len(columns[1]):
            raise ValueError(
                f"The halves of the sentence pairs in `{what}` differ in length: "
                f"{len(columns[0])} and {len(columns[1])}.")
        return columns, True
    return [_column(texts, what, allow_empty)], False


def string_list(texts, what="texts"):
    """Check a list (or tuple, array, Series) of single texts, no pairs; returns a list of
    Python strings.

    >>> string_list(("a", "b"))
    ['a', 'b']
    """
    if isinstance(texts, tuple):
        texts = list(texts)
    return _column(texts, what, True, accepts="a list of strings")


def pair_or_text(text, what="text", pairs=True):
    """One input of `predict_text`: a string, or a tuple `(text_a, text_b)` of two strings.
    Returns the batch of one that the list paths take (`[text]` or `([a], [b])`).

    >>> pair_or_text("good")
    ['good']
    >>> pair_or_text(("good", "bad"))
    (['good'], ['bad'])
    """
    if isinstance(text, str):
        return [text]
    if pairs and isinstance(text, tuple) and len(text) == 2 and all(
            isinstance(t, str) for t in text):
        return [text[0]], [text[1]]
    hint = " For several texts use predict_texts." if isinstance(text, list) else ""
    refuse(what, text, TEXT if pairs else "one string (no sentence pairs here)", hint)


def _column(texts, what, allow_empty, accepts=TEXTS):
    check_text_batch(texts, what, accepts)
    texts = list(texts.tolist() if isinstance(texts, np.ndarray) else texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            if isinstance(text, (tuple, list)):
                hint = PAIR_HINT
            elif text is None or (isinstance(text, (float, np.floating)) and np.isnan(text)):
                hint = "Drop missing rows first (e.g. `clean_like_tutorial`)."
            elif isinstance(text, (bytes, np.bytes_)):
                hint = "Decode bytes to str first (e.g. value.decode('utf-8'))."
            else:
                hint = "Convert the items to str first if they are meant as text."
            raise TextInputError(
                f"`{what}` must hold strings; item {i} is {type(text).__name__} "
                f"({str(repr(text))[:40]}). {hint}")
    if not allow_empty:
        empty = [i for i, text in enumerate(texts) if not text.strip()]
        if empty:
            raise ValueError(
                f"`{what}` has {len(empty)} empty or whitespace-only item(s), first at index "
                f"{empty[:5]}; they would train on [CLS] [SEP] alone. Drop them first.")
    return texts


EMBEDDINGS = ("a string, a list of strings, or embeddings (an array of real numbers, (n, dim) "
              "or (dim,))")


def embeddings_or_texts(x, what, embed):
    """`x` as float32 embeddings: texts (a string, a list of strings) go through `embed`
    (a function of a list of strings), numeric arrays pass as they are.

    >>> embeddings_or_texts([[1, 0]], "a", embed=None).dtype
    dtype('float32')
    >>> embeddings_or_texts(None, "corpus", embed=None)
    Traceback (most recent call last):
    ...
    bertcls.text.inputs.TextInputError: `corpus` must be a string, a list of strings, or \
embeddings (an array of real numbers, (n, dim) or (dim,)), received None.
    """
    if isinstance(x, str):
        return embed([x])
    if isinstance(x, (list, tuple)) and any(isinstance(t, str) for t in x):
        return embed(string_list(x, what))
    if isinstance(x, np.ndarray) and x.dtype.kind == "U" and x.ndim == 1:
        return embed(string_list(x, what))
    if x is None or isinstance(x, (bytes, bool, dict)) or not hasattr(x, "__len__"):
        refuse(what, x, EMBEDDINGS)
    try:
        array = np.asarray(x)
    except ValueError:  # ragged nesting
        array = np.asarray([None])
    if array.dtype.kind not in "iuf" and isinstance(x, (list, tuple)):
        string_list(x, what)  # names the item that is neither a string nor a number
    if array.dtype.kind not in "iuf" or array.ndim not in (1, 2) or not array.size:
        refuse(what, x, EMBEDDINGS)
    return array.astype(np.float32)
