"""Question answering post-processing: start/end logits of every window -> the best answer span
of each example, sliced from the original context by character offsets."""

import collections

import numpy as np

Answer = collections.namedtuple("Answer", ["text", "start", "end", "score", "null_score"],
                                defaults=(float("nan"),))
Answer.__doc__ = """A predicted answer: `text == context[start:end]` (characters), and `score`,
the sum of its start and end logits (higher is more confident; comparable across the windows
of one example). No candidate at all gives `Answer("", 0, 0, -inf)`.

`null_score` is the "no answer" score: the start + end logit of the first token (`[CLS]`),
the smallest over the example's windows (Hugging Face's `utils_qa`); `nan` where it was not
computed. With a `null_threshold` the answer is "no answer" (empty text, `start == end ==
0`) when `null_score - score > null_threshold`; `score` then still holds the best span's
score, so `null_score - score` is always the margin that threshold is compared with.

>>> Answer("1443년", 6, 11, 7.5).text
'1443년'
>>> answer = Answer("", 0, 0, 1.0, null_score=4.0)  # no answer, by a margin of 3.0
>>> answer.text == "", answer.null_score - answer.score
(True, 3.0)
"""

NO_ANSWER = Answer("", 0, 0, float("-inf"))


def check_null_threshold(value):
    """`value` as a float, or None; a ValueError naming `null_threshold` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value):
        raise ValueError("`null_threshold` must be None (always answer with a span) or a "
                         f"finite number, received {value!r}.")
    return float(value)


def best_answers(logits, windows, contexts, n_best=20, max_answer_length=30,
                 null_threshold=None):
    """The best answer of each example over all of its windows, or "no answer".

    For each window, the `n_best` highest start logits and the `n_best` highest end logits
    among its context tokens are paired; a pair is a candidate when the end is not before
    the start and the span has at most `max_answer_length` tokens; its score is the sum of
    the two logits. The best candidate over an example's windows wins, and its text is
    sliced from the original context by the tokens' character offsets, so spaces and
    punctuation come back as written (Hugging Face's `postprocess_qa_predictions`).

    Each answer also carries its `null_score`: the `[CLS]` start + end logit, the smallest
    over the example's windows. With `null_threshold` set, an example whose
    `null_score - score` is above it gets "no answer": empty text, `start == end == 0`
    (`version_2_with_negative` with `null_score_diff_threshold` in Hugging Face's `utils_qa`).
    Without it (the default) every example with a candidate gets a span.

    Args:
        logits: float `(windows, length, 2)` start and end logits (`length` may be shorter
            than the windows' width when batches were padded less; extra positions are
            unused).
        windows: the `QAWindows` the logits were computed on (`bertcls.encode_qa`).
        contexts: the original context strings, one per example.
        n_best: start and end candidates per window.
        max_answer_length: the longest answer, in tokens.
        null_threshold: None (always a span), or the margin `null_score - score` above which
            the answer is "no answer" (0.0 is Hugging Face's default; tune it on a dev set
            with `bertcls.best_no_answer_threshold`).

    Returns:
        list of `Answer(text, start, end, score, null_score)`, one per example.

    Example:

    >>> from bertcls import FeatureEncoder, encode_qa
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "went", "to", "seoul"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> windows = encode_qa(encoder, ["who"], ["kim  went to seoul"], max_question_len=2,
    ...                     doc_stride=0)
    >>> logits = np.zeros((1, 8, 2), "float32")
    >>> logits[0, 3, 0] = logits[0, 4, 1] = 5.0  # start at "kim", end at "went"
    >>> best_answers(logits, windows, ["kim  went to seoul"])
    [Answer(text='kim  went', start=0, end=9, score=10.0, null_score=0.0)]
    >>> logits[0, 0, :] = 6.0  # [CLS] start and end: null score 12 > span score 10
    >>> best_answers(logits, windows, ["kim  went to seoul"], null_threshold=0.0)
    [Answer(text='', start=0, end=0, score=10.0, null_score=12.0)]
    """
    logits = np.asarray(logits, np.float32)
    if logits.ndim != 3 or logits.shape[-1] != 2 or len(logits) != len(windows.example_index):
        raise ValueError(
            f"`logits` must have shape ({len(windows.example_index)}, length, 2) for these "
            f"windows, received {logits.shape}.")
    for name, value in (("n_best", n_best), ("max_answer_length", max_answer_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, received {value!r}.")
    null_threshold = check_null_threshold(null_threshold)
    best = [NO_ANSWER] * len(contexts)
    null = np.full(len(contexts), np.inf)
    width = logits.shape[1]
    for row, example in enumerate(windows.example_index):
        null[example] = min(null[example], float(logits[row, 0, 0] + logits[row, 0, 1]))
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
    out = []
    for answer, null_score in zip(best, null):
        null_score = float(null_score) if np.isfinite(null_score) else float("nan")
        if null_threshold is not None and not null_score - answer.score <= null_threshold:
            # (an example without any candidate, score -inf, is "no answer" too)
            answer = Answer("", 0, 0, answer.score)
        out.append(answer._replace(null_score=null_score))
    return out


def no_answer_margins(answers):
    """`null_score - score` of each `Answer`: the value a `null_threshold` is compared with,
    to pass as no-answer "probabilities" to `bertcls.squad_v2_scores` or
    `bertcls.best_no_answer_threshold` (higher = more likely unanswerable). An answer without
    any candidate span gets +inf's stand-in 1e30.

    Example:

    >>> no_answer_margins([Answer("a", 0, 1, 5.0, 2.0), Answer("", 0, 0, float("-inf"), 1.0)])
    [-3.0, 1e+30]
    """
    margins = []
    for answer in answers:
        margin = answer.null_score - answer.score
        margins.append(float(np.clip(margin, -1e30, 1e30)) if not np.isnan(margin) else 1e30)
    return margins
