"""Question answering inputs: (question, context) pairs -> overlapping windows of one
`max_seq_len`, each mapped back to its example, with start/end token labels.

Windowing runs in numpy on the `FeatureEncoder`'s token ids and offsets of each segment
tokenized alone (the tokenization is the encoder's, in TensorFlow ops; only the slicing is
numpy, which keeps it simple and exact). The layout is Hugging Face's
`tokenizer(question, context, truncation="only_second", max_length=max_seq_len,
stride=doc_stride, return_overflowing_tokens=True)`:
`[CLS] question [SEP] context[s:e] [SEP]`, the question whole (cut to `max_question_len`
tokens first) in every window, consecutive windows sharing `doc_stride` context tokens, the
last window ending with the context.
"""

import collections

import numpy as np

from bertcls.text.inputs import string_list

QAWindows = collections.namedtuple(
    "QAWindows", ["features", "offsets", "context_mask", "example_index", "labels"])
QAWindows.__doc__ = """Encoded windows of (question, context) pairs, one row per window.

- `features`: dict of int32 `input_ids`, `attention_mask`, `token_type_ids`,
  `(windows, max_seq_len)`: the model's input.
- `offsets`: int32 `(windows, max_seq_len, 2)`: each token's `[start, end)` character span
  (in the question for question tokens, in the context for context tokens; `(0, 0)` for
  special tokens and padding).
- `context_mask`: bool `(windows, max_seq_len)`: True at context tokens, the only positions an
  answer may start or end at.
- `example_index`: int `(windows,)`: the example (position in the inputs) of each window.
- `labels`: int32 `(windows, 2)`: the answer's start and end token in the window, `(0, 0)`
  (`[CLS]`) when the window does not hold the whole answer; `None` without answers.

>>> from bertcls import FeatureEncoder
>>> windows = encode_qa(FeatureEncoder(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"], max_seq_len=8),
...                     ["a"], ["a a a a a a"], doc_stride=1, max_question_len=1)
>>> windows.features["input_ids"].shape, windows.example_index.tolist()
((2, 8), [0, 0])
"""


def encode_qa(encoder, questions, contexts, answers=None, doc_stride=128,
              max_question_len=64, chunk_size=1024, answerless_windows="cls"):
    """Encode (question, context) pairs into overlapping windows of `encoder.max_seq_len`.

    Args:
        encoder: a `FeatureEncoder`; its tokenization and `max_seq_len` are used.
        questions, contexts: lists of strings of equal length.
        answers: optional list, one item per example: `(text, start)` with `start` the
            answer's character offset in its context, or `None` (or an empty text) for an
            unanswerable question, whose windows are all labelled `[CLS]` (0, 0) (BERT's
            SQuAD 2.0 recipe). A window whose context holds the whole answer is labelled with
            the answer's first and last token (the first token ending after its first
            character, the last token starting before its end); other windows with `[CLS]`
            (0, 0), as in Hugging Face's `run_qa.py`.
        doc_stride: context tokens shared by consecutive windows (Hugging Face's `stride`).
        max_question_len: questions are cut to this many tokens; contexts are never cut.
        chunk_size: texts tokenized per call.
        answerless_windows: what becomes of the windows of an *answerable* question that do
            not hold its answer: `"cls"` (the default, Hugging Face's `run_qa.py`) labels
            them `[CLS]` (0, 0), teaching "no answer in this window"; `"drop"` leaves them
            out (with `answers` only), so the model learns "no answer" from unanswerable
            questions alone.

    Returns:
        `QAWindows(features, offsets, context_mask, example_index, labels)`.

    Raises:
        ValueError: mismatched lengths, non-string input, an answer that is not in its
            context at its offset, or a `doc_stride` that leaves no room to advance.

    Example:

    >>> from bertcls import FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "went", "to", "seoul"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=6)
    >>> windows = encode_qa(encoder, ["who"], ["kim went to seoul"], [("kim", 0)],
    ...                     doc_stride=1, max_question_len=1)
    >>> windows.features["input_ids"].tolist()  # 2 context tokens a window, 1 shared
    [[2, 4, 3, 5, 6, 3], [2, 4, 3, 6, 7, 3], [2, 4, 3, 7, 8, 3]]
    >>> windows.labels.tolist(), windows.example_index.tolist()
    ([[3, 3], [0, 0], [0, 0]], [0, 0, 0])
    """
    questions, contexts = string_list(questions, "questions"), string_list(contexts, "contexts")
    if len(questions) != len(contexts):
        raise ValueError(f"Got {len(questions)} questions but {len(contexts)} contexts.")
    if answers is not None and len(answers) != len(questions):
        raise ValueError(f"Got {len(answers)} answers for {len(questions)} questions.")
    length = encoder.max_seq_len
    if answerless_windows not in ("cls", "drop"):
        raise ValueError("`answerless_windows` must be 'cls' or 'drop', received "
                         f"{answerless_windows!r}.")
    for name, value in (("doc_stride", doc_stride), ("max_question_len", max_question_len)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative integer, received {value!r}.")
    spans = [None] * len(questions)
    if answers is not None:
        for i, answer in enumerate(answers):
            if answer is None:
                continue
            text, start = answer
            if contexts[i][start:start + len(text)] != text or start < 0:
                raise ValueError(
                    f"Example {i}: the answer {text!r} is not at character {start} of its "
                    f"context (found {contexts[i][start:start + len(text)]!r}).")
            spans[i] = (start, start + len(text)) if text else None
    question_tokens = _tokenize(encoder, questions, chunk_size)
    unique = list(dict.fromkeys(contexts))
    context_tokens = dict(zip(unique, _tokenize(encoder, unique, chunk_size)))

    # [CLS] q [SEP] c [SEP], or XLM-R's <s> q </s></s> c </s> (no token types).
    separators = getattr(encoder, "pair_separators", 1)
    specials = 2 + separators
    rows = []
    for i, (question, context) in enumerate(zip(question_tokens, contexts)):
        q_ids, q_offsets = question[0][:max_question_len], question[1][:max_question_len]
        c_ids, c_offsets = context_tokens[context]
        budget = length - len(q_ids) - specials
        if budget <= doc_stride:
            raise ValueError(
                f"Example {i}: max_seq_len {length} leaves {budget} context tokens per window "
                f"after its question of {len(q_ids)} tokens and {specials} special tokens; "
                f"doc_stride={doc_stride} must be smaller (or lower max_question_len).")
        for begin, end in _window_bounds(len(c_ids), budget, doc_stride):
            rows.append((i, q_ids, q_offsets, c_ids[begin:end], c_offsets[begin:end]))
    n = len(rows)
    ids = np.full((n, length), encoder.pad_token_id, np.int32)
    mask = np.zeros((n, length), np.int32)
    types = np.zeros((n, length), np.int32)
    offsets = np.zeros((n, length, 2), np.int32)
    context_mask = np.zeros((n, length), bool)
    example_index = np.zeros(n, np.int64)
    labels = np.zeros((n, 2), np.int32) if answers is not None else None
    cls, sep = encoder.cls_token_id, encoder.sep_token_id
    for row, (i, q_ids, q_offsets, c_ids, c_offsets) in enumerate(rows):
        first = len(q_ids) + 1 + separators  # position of the first context token
        last = first + len(c_ids)  # position of the final [SEP]
        ids[row, :last + 1] = np.concatenate([[cls], q_ids, [sep] * separators, c_ids, [sep]])
        mask[row, :last + 1] = 1
        if getattr(encoder, "segment_ids", True):
            types[row, first:last + 1] = 1
        offsets[row, 1:1 + len(q_ids)] = q_offsets
        offsets[row, first:last] = c_offsets
        context_mask[row, first:last] = True
        example_index[row] = i
        if labels is not None and spans[i] is not None and len(c_ids):
            labels[row] = _label(c_offsets, spans[i], first)
    if answerless_windows == "drop" and labels is not None:
        answerable = np.array([spans[i] is not None for i in example_index], bool)
        keep = ~answerable | (labels[:, 0] > 0)
        ids, mask, types, offsets = ids[keep], mask[keep], types[keep], offsets[keep]
        context_mask, example_index, labels = context_mask[keep], example_index[keep], labels[keep]
    features = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return QAWindows(features, offsets, context_mask, example_index, labels)


def _tokenize(encoder, texts, chunk_size):
    """Each text's token ids and `(tokens, 2)` offsets, without special tokens or truncation."""
    import tensorflow as tf

    out = []
    for begin in range(0, len(texts), chunk_size):
        chunk = tf.constant(texts[begin:begin + chunk_size], tf.string)
        ids, starts, ends = encoder.tokenizer.tokenize_with_offsets(chunk)
        for i, s, e in zip(ids.to_list(), starts.to_list(), ends.to_list()):
            out.append((np.asarray(i, np.int32),
                        np.stack([np.asarray(s, np.int32), np.asarray(e, np.int32)], axis=-1)
                        .reshape(-1, 2)))
    return out


def _window_bounds(count, budget, stride):
    """`[begin, end)` of each window over `count` context tokens: Hugging Face's overflow
    (windows of `budget` tokens, advancing by `budget - stride`, until one reaches the end;
    one empty window for an empty context)."""
    bounds, begin = [], 0
    while True:
        end = min(begin + budget, count)
        bounds.append((begin, end))
        if end == count:
            return bounds
        begin += budget - stride


def _label(offsets, span, first):
    """Start/end token of the character span `[start, end)` in a window whose context tokens
    have `offsets` and begin at position `first`; (0, 0) unless the window holds it all."""
    start, end = span
    if not (offsets[0, 0] <= start and offsets[-1, 1] >= end):
        return 0, 0
    # The first token ending after the answer's first character and the last token starting
    # before its end (offsets only grow along the context). Unlike run_qa.py's scan this stays
    # ordered when several tokens share one character (a Hangul syllable split into jamo
    # pieces by an uncased vocabulary).
    start_token = int(np.sum(offsets[:, 1] <= start))
    end_token = int(np.sum(offsets[:, 0] < end)) - 1
    if start_token > end_token:  # the answer covers no token (only spaces)
        return 0, 0
    return first + start_token, first + end_token
