"""What every text path accepts: a list of strings, or sentence pairs as a tuple
`(texts_a, texts_b)` of two equally long lists (the `FeatureEncoder`'s own convention)."""

import numpy as np

PAIR_HINT = ("For sentence pairs pass a tuple of two lists, (texts_a, texts_b), not a list "
             "of pairs.")


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
    ValueError: `texts` must hold strings; item 0 is tuple (('a', 'c')). For sentence pairs \
pass a tuple of two lists, (texts_a, texts_b), not a list of pairs.
    """
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"`{what}` must be a list of strings, received a single string.")
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


def pair_or_text(text, what="text"):
    """One input of `predict_text`: a string, or a tuple `(text_a, text_b)` of two strings.
    Returns the batch of one that the list paths take (`[text]` or `([a], [b])`).

    >>> pair_or_text("good")
    ['good']
    >>> pair_or_text(("good", "bad"))
    (['good'], ['bad'])
    """
    if isinstance(text, str):
        return [text]
    if isinstance(text, tuple) and len(text) == 2 and all(isinstance(t, str) for t in text):
        return [text[0]], [text[1]]
    raise ValueError(
        f"`{what}` must be one string or a tuple (text_a, text_b) of two strings, received "
        f"{type(text).__name__}.")


def _column(texts, what, allow_empty):
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"`{what}` must be a list of strings, received a single string.")
    texts = list(texts.tolist() if isinstance(texts, np.ndarray) else texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            hint = PAIR_HINT if isinstance(text, (tuple, list)) else (
                "Drop missing rows first (e.g. `clean_like_tutorial`).")
            raise ValueError(
                f"`{what}` must hold strings; item {i} is {type(text).__name__} ({text!r}). "
                f"{hint}")
    if not allow_empty:
        empty = [i for i, text in enumerate(texts) if not text.strip()]
        if empty:
            raise ValueError(
                f"`{what}` has {len(empty)} empty or whitespace-only item(s), first at index "
                f"{empty[:5]}; they would train on [CLS] [SEP] alone. Drop them first.")
    return texts
