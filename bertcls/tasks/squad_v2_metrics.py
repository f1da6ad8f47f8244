"""SQuAD 2.0's official exact match and F1, with unanswerable questions and the best no-answer
threshold (the definitions of the official `evaluate-v2.0.py`, written anew).

Unlike KorQuAD 1.0's metric (`bertcls.korquad_scores`, character F1) this one is SQuAD's: the
normalisation lowercases, removes ASCII punctuation, the English articles a/an/the and extra
whitespace, and F1 compares the multisets of *words*. An unanswerable question (no gold
answer, or only gold answers that normalise to nothing) is right exactly when the prediction
is empty.
"""

import collections
import math
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def squad_normalize(text):
    """SQuAD's answer normalisation: lowercase, drop ASCII punctuation, then the articles
    a / an / the, then collapse whitespace.

    Example:

    >>> squad_normalize("The  Eiffel-Tower!")
    'eiffeltower'
    >>> squad_normalize("세종대왕, 1443년")
    '세종대왕 1443년'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _tokens(text):
    return squad_normalize(text).split() if text else []


def squad_exact(prediction, truth):
    """1 when the two answers are equal after `squad_normalize`, else 0.

    >>> squad_exact("the Beatles", "Beatles."), squad_exact("", "")
    (1, 1)
    """
    return int(squad_normalize(prediction) == squad_normalize(truth))


def squad_f1(prediction, truth):
    """SQuAD's word-level F1 of one prediction against one gold answer; when either side has
    no words (an empty answer means "no answer"), 1 if both have none, else 0.

    >>> round(squad_f1("in Seoul city", "Seoul"), 4)  # 1 shared word of 3 and 1
    0.5
    >>> squad_f1("", ""), squad_f1("Seoul", "")
    (1, 0)
    """
    predicted, gold = _tokens(prediction), _tokens(truth)
    if not predicted or not gold:
        return int(predicted == gold)
    same = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if same == 0:
        return 0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_v2_scores(predictions, references, no_answer_probs=None, no_answer_threshold=1.0):
    """SQuAD 2.0's official scores (`evaluate-v2.0.py`), x100.

    Each question's raw exact match and F1 take the best over its gold answers (gold answers
    that normalise to nothing are dropped; with none left, the only right answer is the
    empty string). With `no_answer_probs`, a question whose probability is above
    `no_answer_threshold` counts as predicted "no answer" (1 if it is unanswerable, 0 if
    not), and `best_exact` / `best_f1` are the scores at the best threshold, found as the
    official `find_best_thresh` does: questions sorted by probability (ties in the order of
    `no_answer_probs`, Python's stable sort, as the official script sorts its JSON dict),
    the running score updated question by question, the threshold moved only on a strict
    improvement. As in the official script the returned threshold is the probability of the
    question where the best running score was reached, so with ties it can sit inside a run
    of equal probabilities.

    Args:
        predictions: dict question id -> predicted text; `""` means "no answer".
        references: dict question id -> list of gold answer texts; an empty list marks an
            unanswerable question. Every question must have a prediction (the official script
            fails without one).
        no_answer_probs: optional dict question id -> probability (or any score, higher =
            more likely unanswerable) for every question.
        no_answer_threshold: above it a question counts as predicted "no answer" (the
            official default 1.0 never fires for probabilities).

    Returns:
        dict with the official keys: `exact`, `f1`, `total`; `HasAns_exact`, `HasAns_f1`,
        `HasAns_total` when some question is answerable; `NoAns_*` when some is not; with
        `no_answer_probs` also `best_exact`, `best_exact_thresh`, `best_f1`, `best_f1_thresh`.

    Raises:
        ValueError: a question without a prediction or probability, an id not in
            `references`, a prediction that is not a string, a probability that is not a
            finite number, or no questions.

    Example:

    >>> scores = squad_v2_scores(
    ...     {"q1": "Seoul", "q2": "", "q3": "Busan"},
    ...     {"q1": ["Seoul"], "q2": [], "q3": []},
    ...     no_answer_probs={"q1": 0.1, "q2": 0.9, "q3": 0.6})
    >>> scores["exact"], scores["HasAns_exact"], scores["NoAns_exact"]
    (66.66666666666667, 100.0, 50.0)
    >>> scores["best_exact"], scores["best_exact_thresh"]  # "no answer" above 0.1
    (100.0, 0.1)
    """
    if not isinstance(references, dict) or not references:
        raise ValueError("`references` must be a non-empty dict question id -> list of gold "
                         f"answers, received {type(references).__name__} {references!r:.80}.")
    if not isinstance(predictions, dict):
        raise ValueError("`predictions` must be a dict question id -> text, received "
                         f"{type(predictions).__name__}.")
    _same_ids(predictions, references, "predictions")
    has_answer, exact_raw, f1_raw = {}, {}, {}
    for qid, golds in references.items():
        if isinstance(golds, str) or not isinstance(golds, (list, tuple)):
            raise ValueError(
                f"Question {qid!r}: `references` must map each id to a list of answer strings "
                f"(empty for unanswerable), received {golds!r}.")
        prediction = predictions[qid]
        if not isinstance(prediction, str):
            raise ValueError(f"Question {qid!r}: the prediction must be a string, received "
                             f"{type(prediction).__name__}.")
        has_answer[qid] = bool(golds)
        golds = [g for g in golds if squad_normalize(g)] or [""]
        exact_raw[qid] = max(squad_exact(prediction, g) for g in golds)
        f1_raw[qid] = max(squad_f1(prediction, g) for g in golds)
    if no_answer_probs is None:
        probs = {qid: 0.0 for qid in references}
    else:
        if not isinstance(no_answer_probs, dict):
            raise ValueError("`no_answer_probs` must be a dict question id -> probability, "
                             f"received {type(no_answer_probs).__name__}.")
        _same_ids(no_answer_probs, references, "no_answer_probs")
        probs = {}
        for qid, p in no_answer_probs.items():
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
                raise ValueError(f"Question {qid!r}: a no-answer probability must be a finite "
                                 f"number, received {p!r}.")
            probs[qid] = float(p)
    if isinstance(no_answer_threshold, bool) or not isinstance(
            no_answer_threshold, (int, float)) or math.isnan(no_answer_threshold):
        raise ValueError("`no_answer_threshold` must be a number, received "
                         f"{no_answer_threshold!r}.")

    def thresholded(raw):
        return {qid: (float(not has_answer[qid]) if probs[qid] > no_answer_threshold else s)
                for qid, s in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    out = _averages(exact, f1, list(references))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        ids = [qid for qid in references if has_answer[qid] == wanted]
        if ids:
            out.update({f"{prefix}_{k}": v for k, v in _averages(exact, f1, ids).items()})
    if no_answer_probs is not None:
        for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
            best, threshold = _best_threshold(predictions, raw, probs, has_answer)
            out[f"best_{name}"] = best
            out[f"best_{name}_thresh"] = threshold
    return out


def best_no_answer_threshold(predictions, references, no_answer_probs, metric="f1"):
    """The no-answer threshold that maximises SQuAD 2.0's exact match or F1 on a dev set (the
    official `find_best_thresh`; see `squad_v2_scores`).

    Args:
        predictions: dict question id -> best *span* text (not yet replaced by "no answer").
        references: dict question id -> list of gold answers, empty when unanswerable.
        no_answer_probs: dict question id -> no-answer probability or score.
        metric: `"f1"` or `"exact"`.

    Returns:
        `(threshold, best score)`: predict "no answer" where the score is above `threshold`.

    Example:

    >>> best_no_answer_threshold({"q1": "Seoul", "q2": "Busan"}, {"q1": ["Seoul"], "q2": []},
    ...                          {"q1": -2.0, "q2": 3.0})
    (-2.0, 100.0)
    """
    if metric not in ("f1", "exact"):
        raise ValueError(f"`metric` must be 'f1' or 'exact', received {metric!r}.")
    scores = squad_v2_scores(predictions, references, no_answer_probs)
    return scores[f"best_{metric}_thresh"], scores[f"best_{metric}"]


def _same_ids(values, references, name):
    unknown = [qid for qid in values if qid not in references]
    missing = [qid for qid in references if qid not in values]
    if unknown or missing:
        raise ValueError(
            f"`{name}` must have exactly the question ids of `references`: {len(missing)} "
            f"missing (e.g. {missing[:3]}), {len(unknown)} unknown (e.g. {unknown[:3]}).")


def _averages(exact, f1, ids):
    total = len(ids)
    return {"exact": 100.0 * sum(exact[k] for k in ids) / total,
            "f1": 100.0 * sum(f1[k] for k in ids) / total, "total": total}


def _best_threshold(predictions, raw, probs, has_answer):
    # Start from "no answer" everywhere (every unanswerable question right), then answer the
    # questions one by one in order of rising probability.
    score = best = sum(1 for v in has_answer.values() if not v)
    threshold = 0.0
    for qid in sorted(probs, key=lambda k: probs[k]):
        if has_answer[qid]:
            score += raw[qid]
        elif predictions[qid]:
            score -= 1
        if score > best:
            best, threshold = score, probs[qid]
    return 100.0 * best / len(raw), threshold
