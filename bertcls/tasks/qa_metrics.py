"""KorQuAD 1.0's official exact match and F1 for extractive question answering.

Written from the definition of KorQuAD's `evaluate-v1.0.py` (itself SQuAD v1.1's script,
adapted): both strings are normalised (the marks ' " 《 》 < > 〈 〉 ( ) ‘ ’ become spaces,
then lowercase, ASCII punctuation removed, runs of whitespace collapsed); exact match compares
the normalised strings; F1 compares the multisets of their non-space *characters* (SQuAD's F1
compares words, which suits Korean badly: a particle glued to a word would make it a miss).
Each question takes its best score over the gold answers; both are averaged over questions
and reported x100.
"""

import collections
import re
import string

# KorQuAD's extra marks, each replaced by a space before anything else.
_MARKS = re.compile("['\"《》<>〈〉()‘’]")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """KorQuAD's answer normalisation.

    Args:
        text: an answer string.

    Returns:
        The normalised string.

    Example:

    >>> normalize_answer("  《삼국사기》(三國史記)의  ")
    '삼국사기 三國史記 의'
    >>> normalize_answer("The U.S.A.")
    'the usa'
    """
    text = _MARKS.sub(" ", text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    return " ".join(text.split())


def exact_match(prediction, truth):
    """True when the two answers are equal after `normalize_answer`."""
    return normalize_answer(prediction) == normalize_answer(truth)


def answer_f1(prediction, truth):
    """KorQuAD's character-level F1 of one predicted answer against one gold answer.

    Example:

    >>> round(answer_f1("서울특별시", "서울"), 4)  # 2 shared characters of 5 and 2
    0.5714
    >>> answer_f1("부산", "서울")
    0.0
    """
    predicted = list(normalize_answer(prediction).replace(" ", ""))
    gold = list(normalize_answer(truth).replace(" ", ""))
    same = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def korquad_scores(predictions, references):
    """KorQuAD 1.0's official exact match and F1, x100, over a set of questions.

    Args:
        predictions: dict question id -> predicted answer text.
        references: dict question id -> list of gold answer texts (one or more; the best
            match counts). Every question in `references` is scored; a question without a
            prediction scores 0, as in the official script.

    Returns:
        dict with `exact_match` and `f1` (both x100), `count` (questions scored) and
        `unanswered` (questions with no prediction).

    Raises:
        ValueError: a question has no gold answer, a prediction is not a string, or a
            prediction's id is not a question in `references`.

    Example:

    >>> korquad_scores({"q1": "1989년 2월 15일", "q2": "서울에서"},
    ...                {"q1": ["1989년 2월 15일"], "q2": ["서울"]})
    {'exact_match': 50.0, 'f1': 83.33333333333333, 'count': 2, 'unanswered': 0}
    """
    unknown = sorted(set(predictions) - set(references))
    if unknown:
        raise ValueError(
            f"{len(unknown)} predictions are for questions not in `references`, e.g. "
            f"{unknown[:3]}.")
    em = f1 = 0.0
    unanswered = 0
    for qid, golds in references.items():
        if isinstance(golds, str) or not golds:
            raise ValueError(
                f"Question {qid!r}: `references` must map each id to a non-empty list of "
                f"answer strings, received {golds!r}.")
        if qid not in predictions:
            unanswered += 1
            continue
        prediction = predictions[qid]
        if not isinstance(prediction, str):
            raise ValueError(
                f"Question {qid!r}: the prediction must be a string, received "
                f"{type(prediction).__name__}.")
        em += max(float(exact_match(prediction, g)) for g in golds)
        f1 += max(answer_f1(prediction, g) for g in golds)
    count = len(references)
    scale = 100.0 / count if count else 0.0
    return {"exact_match": em * scale, "f1": f1 * scale, "count": count,
            "unanswered": unanswered}
