"""Question answering post-processing: start/end logits of every window -> the best answer span
of each example, sliced from the original context by character offsets."""

import collections

import numpy as np

Answer = collections.namedtuple("Answer", ["text", "start", "end", "score"])
Answer.__doc__ = """A predicted answer: `text == context[start:end]` (characters), and `score`,
the sum of its start and end logits (higher is more confident; comparable across the windows
of one example). No candidate at all gives `Answer("", 0, 0, -inf)`.

>>> Answer("1443년", 6, 11, 7.5).text
'1443년'
"""

NO_ANSWER = Answer("", 0, 0, float("-inf"))


def best_answers(logits, windows, contexts, n_best=20, max_answer_length=30):
    """The best answer of each example over all of its windows.

    For each window, the `n_best` highest start logits and the `n_best` highest end logits
    among its context tokens are paired; a pair is a candidate when the end is not before
    the start and the span has at most `max_answer_length` tokens; its score is the sum of
    the two logits. The best candidate over an example's windows wins, and its text is
    sliced from the original context by the tokens' character offsets, so spaces and
    punctuation come back as written (Hugging Face's `postprocess_qa_predictions`).

    Args:
        logits: float `(windows, length, 2)` start and end logits (`length` may be shorter
            than the windows' width when batches were padded less; extra positions are
            unused).
        windows: the `QAWindows` the logits were computed on (`bertcls.encode_qa`).
        contexts: the original context strings, one per example.
        n_best: start and end candidates per window.
        max_answer_length: the longest answer, in tokens.

    Returns:
        list of `Answer(text, start, end, score)`, one per example.

    Example:

    >>> from bertcls import FeatureEncoder, encode_qa
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "went", "to", "seoul"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> windows = encode_qa(encoder, ["who"], ["kim  went to seoul"], max_question_len=2,
    ...                     doc_stride=0)
    >>> logits = np.zeros((1, 8, 2), "float32")
    >>> logits[0, 3, 0] = logits[0, 4, 1] = 5.0  # start at "kim", end at "went"
    >>> best_answers(logits, windows, ["kim  went to seoul"])
    [Answer(text='kim  went', start=0, end=9, score=10.0)]
    """
    logits = np.asarray(logits, np.float32)
    if logits.ndim != 3 or logits.shape[-1] != 2 or len(logits) != len(windows.example_index):
        raise ValueError(
            f"`logits` must have shape ({len(windows.example_index)}, length, 2) for these "
            f"windows, received {logits.shape}.")
    for name, value in (("n_best", n_best), ("max_answer_length", max_answer_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, received {value!r}.")
    best = [NO_ANSWER] * len(contexts)
    width = logits.shape[1]
    for row, example in enumerate(windows.example_index):
        positions = np.flatnonzero(windows.context_mask[row, :width])
        if not len(positions):
            continue
        start_logits, end_logits = logits[row, positions, 0], logits[row, positions, 1]
        starts = np.argsort(-start_logits, kind="stable")[:n_best]
        ends = np.argsort(-end_logits, kind="stable")[:n_best]
        # positions are consecutive, so token distance = index distance
        span = ends[None, :] - starts[:, None]
        scores = start_logits[starts][:, None] + end_logits[ends][None, :]
        scores = np.where((span >= 0) & (span < max_answer_length), scores, -np.inf)
        i, j = np.unravel_index(np.argmax(scores), scores.shape)
        score = float(scores[i, j])
        if score == -np.inf or score <= best[example].score:
            continue
        offsets = windows.offsets[row]
        begin = int(offsets[positions[starts[i]], 0])
        end = int(offsets[positions[ends[j]], 1])
        best[example] = Answer(contexts[example][begin:end], begin, end, score)
    return best
