"""NER scores: entity-level precision/recall/F1 (seqeval strict IOB2) and KLUE's character F1.

Plain Python/numpy over lists of tag strings; no framework involved.
"""

import numpy as np

AVERAGES = ("micro", "macro")


def _check_sequences(y_true, y_pred):
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must hold the same number of sequences, received "
            f"{len(y_true)} and {len(y_pred)}.")
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        if isinstance(t, str) or isinstance(p, str):
            raise ValueError(
                "y_true and y_pred are lists of tag sequences (lists of strings), received a "
                f"plain string at index {i}.")
        if len(t) != len(p):
            raise ValueError(
                f"Sequence {i} has {len(t)} true tags but {len(p)} predicted tags.")


def _split_tag(tag):
    if tag == "O":
        return "O", None
    if len(tag) > 2 and tag[0] in "BI" and tag[1] in "-_":
        return tag[0], tag[2:]
    raise ValueError(
        f"Tags must be 'O', 'B-<type>' or 'I-<type>' (IOB2), received {tag!r}.")


def get_entities(tags):
    """Entities of one IOB2 tag sequence under seqeval's strict mode.

    An entity starts at `B-X` and extends over the following `I-X`; an `I-X` that does not
    continue a `B-X`/`I-X` of the same type starts no entity.

    Args:
        tags: list of tag strings (`"O"`, `"B-PS"`, `"I-PS"`, ...).

    Returns:
        list of `(type, start, end)` with `end` exclusive.

    Example:

    >>> get_entities(["B-PS", "I-PS", "O", "I-LC", "B-LC", "I-OG"])
    [('PS', 0, 2), ('LC', 4, 5)]
    """
    entities = []
    current = None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = _split_tag(tag) if i < len(tags) else ("O", None)
        if current is not None and (prefix != "I" or kind != current[0]):
            entities.append((current[0], current[1], i))
            current = None
        if prefix == "B":
            current = (kind, i)
    return entities


def entity_scores(y_true, y_pred, average="micro"):
    """Entity-level precision, recall and F1, as seqeval's strict IOB2 mode computes them.

    Equals `seqeval.metrics.{precision,recall,f1}_score(y_true, y_pred, mode="strict",
    scheme=IOB2, average=average)` (tested), with 0 where a ratio is undefined.
    KLUE's entity F1 is `average="macro"` (times 100).

    Args:
        y_true, y_pred: lists of tag sequences (one list of strings per sentence).
        average: `"micro"` (pool all entities) or `"macro"` (mean over entity types found in
            either side).

    Returns:
        dict with `precision`, `recall`, `f1` (floats in [0, 1]).

    Example:

    >>> entity_scores([["B-PS", "I-PS", "O", "B-LC"]], [["B-PS", "I-PS", "O", "O"]])
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666}
    """
    if average not in AVERAGES:
        raise ValueError(f"`average` must be one of {AVERAGES}, received {average!r}.")
    _check_sequences(y_true, y_pred)
    true_set, pred_set = set(), set()
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        true_set.update((i,) + e for e in get_entities(t))
        pred_set.update((i,) + e for e in get_entities(p))

    def prf(true, pred):
        tp = len(true & pred)
        precision = tp / len(pred) if pred else 0.0
        recall = tp / len(true) if true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    if average == "micro":
        scores = prf(true_set, pred_set)
    else:
        types = sorted({e[1] for e in true_set | pred_set})
        per_type = [prf({e for e in true_set if e[1] == k}, {e for e in pred_set if e[1] == k})
                    for k in types]
        scores = tuple(float(np.mean(s)) if per_type else 0.0 for s in zip(*per_type)) \
            if per_type else (0.0, 0.0, 0.0)
    return dict(zip(("precision", "recall", "f1"), scores))


def char_f1(y_true, y_pred, labels=None, include_o=False):
    """KLUE-NER's character-level macro F1 over per-character tags.

    Definition (KLUE baseline, `klue_baseline/metrics/functional.py`,
    `klue_ner_char_macro_f1`, docstring "KLUE-NER character level macro f1 (except O tag)"):
    flatten the per-character tags of all sentences and return
    `sklearn.metrics.f1_score(trues, preds, labels=list(range(len(label_list))),
    average="macro", zero_division=True) * 100`, i.e. the unweighted mean over tags of
    `2 tp / (2 tp + fp + fn)`, a tag that occurs on neither side scoring 1. This function
    computes the same (as a fraction, not times 100) without scikit-learn. Following the
    docstring, `O` is left out of the mean; since KLUE's code averages over every index of
    the label list it is handed, pass `include_o=True` to reproduce it when that list holds
    `O`.

    Args:
        y_true, y_pred: lists of tag sequences, one tag per character.
        labels: the tags to average over; default all tags seen in either side (minus `O`).
            Pass the full tag set (e.g. KLUE's 12 B/I tags) to match KLUE exactly when a tag
            may be absent from both sides.
        include_o: count `O` as one of the averaged tags.

    Returns:
        float in [0, 1].

    Example:

    >>> char_f1([["B-PS", "I-PS", "O"]], [["B-PS", "O", "O"]])
    0.5
    """
    _check_sequences(y_true, y_pred)
    trues = np.array([t for seq in y_true for t in seq], dtype=object)
    preds = np.array([t for seq in y_pred for t in seq], dtype=object)
    if labels is None:
        labels = sorted(set(trues.tolist()) | set(preds.tolist()))
    labels = [t for t in labels if include_o or t != "O"]
    if not labels:
        raise ValueError("char_f1 found no tags to average over (every tag is 'O').")
    scores = []
    for tag in labels:
        t, p = trues == tag, preds == tag
        tp, fp, fn = int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p))
        scores.append(1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))
