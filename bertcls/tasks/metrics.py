"""NER scores: entity P/R/F1 in seqeval's two modes, and a per-character macro F1.

Plain Python/numpy over lists of tag strings; no framework involved.

- `entity_scores(..., mode="strict")`: seqeval's `mode="strict"` with a scheme (IOB2 by
  default; IOE2, IOBES, BILOU too).
- `entity_scores(..., mode="default")`: seqeval's default mode, the conlleval.pl rules that
  `seqeval.metrics.f1_score(y_true, y_pred)` and Hugging Face's `evaluate` use.
- KLUE-NER's published metrics are in `bertcls.tasks.klue_metrics`.
- `char_f1`: a per-character macro F1 over chosen tags (by default O left out): NOT KLUE's
  published character F1, which includes O.
"""

import numpy as np

AVERAGES = ("micro", "macro")
MODES = ("strict", "default")

# seqeval.scheme's tables for mode="strict": (allowed prefixes, start patterns, inside
# patterns, end patterns); a pattern is (previous prefixes, current prefixes, type condition).
_ANY = "IOBESUL"
SCHEMES = {
    "IOB2": ("IOB",
             [(_ANY, "B", "any")],
             [("B", "I", "same"), ("I", "I", "same")],
             [("I", "O", "any"), ("I", "I", "diff"), ("I", "B", "any"), ("B", "O", "any"),
              ("B", "I", "diff"), ("B", "B", "any")]),
    "IOE2": ("IOE",
             [("O", "I", "any"), ("O", "E", "any"), ("E", "I", "any"), ("E", "E", "any"),
              ("I", "I", "diff"), ("I", "E", "diff")],
             [("I", "E", "same"), ("I", "I", "same")],
             [("E", _ANY, "any")]),
    "IOBES": ("IOBES",
              [(_ANY, "B", "any"), (_ANY, "S", "any")],
              [("B", "I", "same"), ("B", "E", "same"), ("I", "I", "same"), ("I", "E", "same")],
              [("S", _ANY, "any"), ("E", _ANY, "any")]),
    "BILOU": ("BILOU",
              [(_ANY, "B", "any"), (_ANY, "U", "any")],
              [("B", "I", "same"), ("B", "L", "same"), ("I", "I", "same"), ("I", "L", "same")],
              [("U", _ANY, "any"), ("L", _ANY, "any")]),
}


def _check_sequences(y_true, y_pred):
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must hold the same number of sequences, received "
            f"{len(y_true)} and {len(y_pred)}.")
    if not len(y_true):
        raise ValueError("y_true and y_pred hold no sequences (seqeval raises on empty input "
                         "too); pass a list of tag sequences.")
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        if isinstance(t, str) or isinstance(p, str):
            raise ValueError(
                "y_true and y_pred are lists of tag sequences (lists of strings), received a "
                f"plain string at index {i}.")
        if len(t) != len(p):
            raise ValueError(
                f"Sequence {i} has {len(t)} true tags but {len(p)} predicted tags.")


def _strict_token(tag, scheme="IOB2"):
    """(prefix, type) as seqeval's strict `Token` parses it: `B--PS` is `B-PS`, `B_PS` is not."""
    allowed = SCHEMES[scheme][0]
    if not isinstance(tag, str) or not tag or tag[0] not in allowed:
        raise ValueError(
            f"Tag {tag!r} is not valid in the {scheme} scheme: in seqeval's strict mode a tag "
            f"is a prefix ({', '.join(allowed)}) followed by its type, e.g. 'B-PS' or 'O'.")
    return tag[0], tag[1:].strip("-") or "_"


def _split_tag(tag):
    return _strict_token(tag, "IOB2")


def _matches(prev, token, patterns):
    for prev_prefixes, prefixes, condition in patterns:
        if prev[0] in prev_prefixes and token[0] in prefixes and (
                condition == "any" or (prev[1] == token[1]) == (condition == "same")):
            return True
    return False


def _strict_entities(tags, scheme):
    # seqeval.scheme.Tokens.entities, with `end` exclusive.
    _, start, inside, end = SCHEMES[scheme]
    tokens = [_strict_token(t, scheme) for t in tags] + [("O", "_")]
    entities, prev, i = [], ("O", "_"), 0
    while i < len(tokens):
        token = tokens[i]
        if _matches(prev, token, start):
            j = i + 1
            while j < len(tokens) and _matches(tokens[j - 1], tokens[j], inside):
                j += 1
            if _matches(tokens[j - 1], tokens[j], end):
                entities.append((token[1], i, j))
            i = j
        else:
            i += 1
        prev = tokens[i - 1]
    return entities


def _default_token(tag):
    # seqeval's default mode warns ("seems not to be NE tag") and guesses; refuse instead.
    if not isinstance(tag, str) or not (tag in ("O", "B", "I", "E", "S")
                                        or tag[:2] in ("B-", "I-", "E-", "S-")):
        raise ValueError(
            f"Tag {tag!r} is not a tag seqeval's default mode reads without warning: use 'O', "
            f"or B-, I-, E-, S- followed by the type (e.g. 'B-PS').")
    return tag[0], tag[1:].split("-", 1)[-1] or "_"


def _default_entities(tags):
    # seqeval.metrics.sequence_labeling.get_entities (conlleval.pl), with `end` exclusive.
    entities, prev_tag, prev_type, begin = [], "O", "", 0
    for i, (tag, kind) in enumerate([_default_token(t) for t in tags] + [("O", "_")]):
        if prev_tag != "O" and (prev_tag in "ES" or (prev_tag in "BI" and tag in "BSO")
                                or prev_type != kind):
            entities.append((prev_type, begin, i))
        if tag in "BS" or (prev_tag in "ES" and tag in "EI") or (prev_tag == "O" and tag in "EI") \
                or (tag != "O" and prev_type != kind):
            begin = i
        prev_tag, prev_type = tag, kind
    return entities


def get_entities(tags, mode="strict", scheme=None):
    """Entities of one tag sequence, read as seqeval reads them.

    `mode="strict"` (IOB2 by default): an entity starts at `B-X` and extends over the
    following `I-X`; an `I-X` that does not continue a `B-X`/`I-X` of the same type starts no
    entity. `mode="default"` (conlleval): a stray `I-X` starts an entity too, and `E-`/`S-`
    tags end one, whatever the scheme.

    Args:
        tags: list of tag strings (`"O"`, `"B-PS"`, `"I-PS"`, ...).
        mode: `"strict"` or `"default"`, as in `entity_scores`.
        scheme: strict mode's tagging scheme: `"IOB2"` (default), `"IOE2"`, `"IOBES"` or
            `"BILOU"`.

    Returns:
        list of `(type, start, end)` with `end` exclusive.

    Example:

    >>> get_entities(["B-PS", "I-PS", "O", "I-LC", "B-LC", "I-OG"])
    [('PS', 0, 2), ('LC', 4, 5)]
    >>> get_entities(["B-PS", "I-PS", "O", "I-LC", "B-LC", "I-OG"], mode="default")
    [('PS', 0, 2), ('LC', 3, 4), ('LC', 4, 5), ('OG', 5, 6)]
    """
    mode, scheme = _check_mode(mode, scheme)
    if isinstance(tags, str):
        raise ValueError("`tags` is a list of tag strings, received a plain string.")
    return _strict_entities(tags, scheme) if mode == "strict" else _default_entities(tags)


def _check_mode(mode, scheme):
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}, received {mode!r}.")
    if mode == "default":
        if scheme is not None:
            raise ValueError(
                "`scheme` applies to mode='strict' only; seqeval's default mode reads every "
                f"scheme with the conlleval rules. Received scheme={scheme!r}.")
        return mode, None
    scheme = "IOB2" if scheme is None else scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"`scheme` must be one of {tuple(SCHEMES)} in strict mode, received {scheme!r} "
            "(seqeval's IOB1 strict mode is not offered: use mode='default' for IOB1 tags).")
    return mode, scheme


def _prf(tp, n_pred, n_true):
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_scores(y_true, y_pred, average="micro", mode="strict", scheme=None):
    """Entity-level precision, recall and F1, as seqeval computes them.

    Equals `seqeval.metrics.{precision,recall,f1}_score(y_true, y_pred, average=average,
    zero_division=0)` with `mode="strict", scheme=IOB2` (or the scheme given) for
    `mode="strict"`, and with seqeval's default mode (no `mode`: conlleval.pl's rules, what
    Hugging Face's `evaluate` "seqeval" metric reports) for `mode="default"`; tested on
    thousands of random sequences. An entity is `(sentence, type, start, end)`.

    Undefined ratios are 0, as with seqeval's `zero_division=0`; with `average="macro"` and
    no entity on either side the mean is over no types and every score is `nan`, as in
    seqeval. Tags are parsed as seqeval parses them: strict mode strips `-` around the type
    (`B--PS` is `B-PS`; `B_PS` is type `_PS`, not `PS`) and raises on a prefix outside the
    scheme; default mode reads `X-TYPE` and raises on the tags seqeval would warn about.

    Args:
        y_true, y_pred: lists of tag sequences (one list of strings per sentence).
        average: `"micro"` (pool all entities) or `"macro"` (mean over entity types found in
            either side).
        mode: `"strict"` (seqeval `mode="strict"`) or `"default"` (seqeval's default,
            conlleval-style: a stray `I-X` starts an entity).
        scheme: strict mode's tagging scheme: `"IOB2"` (default), `"IOE2"`, `"IOBES"`,
            `"BILOU"`. Default mode takes no scheme (it reads IOB1, IOB2, IOE and IOBES tags
            alike).

    Returns:
        dict with `precision`, `recall`, `f1` (floats in [0, 1], or `nan` as above).

    Example:

    >>> entity_scores([["B-PS", "I-PS", "O", "B-LC"]], [["B-PS", "I-PS", "O", "O"]])
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666}
    >>> entity_scores([["B-PS", "I-PS"]], [["I-PS", "I-PS"]], mode="default")["f1"]
    1.0
    """
    if average not in AVERAGES:
        raise ValueError(f"`average` must be one of {AVERAGES}, received {average!r}.")
    mode, scheme = _check_mode(mode, scheme)
    _check_sequences(y_true, y_pred)
    true_set, pred_set = set(), set()
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        true_set.update((i,) + e for e in get_entities(t, mode, scheme))
        pred_set.update((i,) + e for e in get_entities(p, mode, scheme))

    if average == "micro":
        scores = _prf(len(true_set & pred_set), len(pred_set), len(true_set))
    else:
        types = sorted({e[1] for e in true_set | pred_set})
        per_type = []
        for kind in types:
            true_k = {e for e in true_set if e[1] == kind}
            pred_k = {e for e in pred_set if e[1] == kind}
            per_type.append(_prf(len(true_k & pred_k), len(pred_k), len(true_k)))
        scores = tuple(float(np.mean(s)) for s in zip(*per_type)) if per_type \
            else (float("nan"),) * 3
    return dict(zip(("precision", "recall", "f1"), scores))


def _macro_f1(trues, preds, labels):
    trues, preds = np.asarray(trues, dtype=object), np.asarray(preds, dtype=object)
    scores = []
    for tag in labels:
        t, p = trues == tag, preds == tag
        tp, fp, fn = int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p))
        scores.append(1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def char_f1(y_true, y_pred, labels=None, include_o=False):
    """A per-character macro F1 over chosen tags; by default NOT KLUE's published figure.

    The unweighted mean over tags of `2 tp / (2 tp + fp + fn)` on the flattened
    per-character tags (every character, spaces included), a tag absent from both sides
    scoring 1; `O` is left out unless `include_o=True`. KLUE's published character F1 is
    `klue_char_f1` (O included, spaces dropped, `[CLS]`/`[SEP]` counted).

    Args:
        y_true, y_pred: lists of tag sequences, one tag per character.
        labels: the tags to average over; default all tags seen in either side (minus `O`).
        include_o: count `O` as one of the averaged tags.

    Returns:
        float in [0, 1].

    Example:

    >>> char_f1([["B-PS", "I-PS", "O"]], [["B-PS", "O", "O"]])
    0.5
    """
    _check_sequences(y_true, y_pred)
    trues = [t for seq in y_true for t in seq]
    preds = [t for seq in y_pred for t in seq]
    if labels is None:
        labels = sorted(set(trues) | set(preds))
    labels = [t for t in labels if include_o or t != "O"]
    if not labels:
        raise ValueError("char_f1 found no tags to average over (every tag is 'O').")
    return _macro_f1(trues, preds, labels)
