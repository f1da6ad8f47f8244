"""KLUE-NER's two published metrics, computed as KLUE-baseline computes them.

`klue_entity_f1` and `klue_char_f1` are KLUE-baseline's `klue_ner_entity_macro_f1` and
`klue_ner_char_macro_f1` (`klue_baseline/metrics/functional.py`) on the character sequence
its evaluation builds, made from per-character tags of the raw texts.
"""

from bertcls.tasks.metrics import _check_sequences, _macro_f1, entity_scores

# KLUE-baseline's label list for KLUE-NER (`KlueNERProcessor.get_labels`), O last.
KLUE_NER_LABELS = ("B-PS", "I-PS", "B-LC", "I-LC", "B-OG", "I-OG", "B-DT", "I-DT",
                   "B-TI", "I-TI", "B-QT", "I-QT", "O")


def _klue_layout(texts, y_true, y_pred):
    """The flat tag sequences KLUE-baseline's NER evaluation scores.

    Per sentence, in order: `O` for `[CLS]`, the tag of every character that is not a space
    (KLUE-baseline's reader skips the `" "` lines of the tsv), `O` for `[SEP]`.
    """
    if len(texts) != len(y_true):
        raise ValueError(f"Received {len(texts)} texts but {len(y_true)} tag sequences.")
    _check_sequences(y_true, y_pred)
    known = set(KLUE_NER_LABELS)
    flat_true, flat_pred = [], []
    for i, (text, t, p) in enumerate(zip(texts, y_true, y_pred)):
        if len(text) != len(t):
            raise ValueError(
                f"Sentence {i} has {len(text)} characters but {len(t)} tags; KLUE's metrics "
                "take one tag per character, spaces included.")
        for tag in list(t) + list(p):
            if tag not in known:
                raise ValueError(
                    f"Tag {tag!r} in sentence {i} is not one of KLUE-NER's labels "
                    f"{KLUE_NER_LABELS}.")
        kept = [j for j, ch in enumerate(text) if ch != " "]
        flat_true += ["O"] + [t[j] for j in kept] + ["O"]
        flat_pred += ["O"] + [p[j] for j in kept] + ["O"]
    return flat_true, flat_pred


def klue_entity_f1(texts, y_true, y_pred):
    """KLUE-NER's entity-level macro F1, as KLUE-baseline computes it (as a fraction).

    KLUE-baseline's `klue_ner_entity_macro_f1` flattens the evaluation's per-character
    sequence of every sentence (`[CLS]`, the non-space characters, `[SEP]`) into ONE
    sequence and returns seqeval's strict IOB2 macro F1 over it. This builds the same
    sequence from per-character tags of the raw texts (spaces included, as KLUE's tsv and
    `read_klue_ner` give them) and computes the same. Dropping the spaces matters: an entity
    tagged across a space the gold marks `O` is one entity here. The `[CLS]`/`[SEP]`
    positions are `O` on both sides (KLUE trains them as `O`; its scorer reads the model's
    tag there, which a span decoder does not have). KLUE also leaves out the characters past
    its `max_seq_length`-token truncation on both sides; this scores every character, so
    the two agree when no sentence is truncated. Tested equal to an implementation of
    KLUE-baseline's function (with seqeval) on thousands of random cases.

    Args:
        texts: the sentences.
        y_true, y_pred: per-character tags of each sentence, `len(tags) == len(text)`, from
            KLUE's 13 labels (`bertcls.tasks.klue_metrics.KLUE_NER_LABELS`).

    Returns:
        float in [0, 1] (KLUE reports it times 100), `nan` when neither side has an entity.

    Example:

    >>> klue_entity_f1(["김 씨 서울"], [["B-PS", "I-PS", "I-PS", "O", "B-LC", "I-LC"]],
    ...                [["B-PS", "O", "I-PS", "O", "B-LC", "I-LC"]])
    1.0
    """
    flat_true, flat_pred = _klue_layout(texts, y_true, y_pred)
    return entity_scores([flat_true], [flat_pred], average="macro")["f1"]


def klue_char_f1(texts, y_true, y_pred):
    """KLUE-NER's character-level macro F1, as KLUE-baseline computes it (as a fraction).

    KLUE-baseline's `klue_ner_char_macro_f1` returns `sklearn.metrics.f1_score(trues,
    preds, labels=list(range(len(label_list))), average="macro", zero_division=True)` over
    the flattened evaluation sequence (per sentence: `[CLS]`, the non-space characters,
    `[SEP]`). Its label list has 13 labels, `O` last, so the mean is over the 12 B/I tags
    AND `O` (its docstring says "except O tag"; its code includes it); a label absent from
    both sides scores 1. This builds the same sequence as `klue_entity_f1` does (same notes
    on `[CLS]`/`[SEP]` and truncation) and computes the same without scikit-learn; tested
    equal on thousands of random cases.

    Args:
        texts: the sentences.
        y_true, y_pred: per-character tags of each sentence, `len(tags) == len(text)`, from
            KLUE's 13 labels (`bertcls.tasks.klue_metrics.KLUE_NER_LABELS`).

    Returns:
        float in [0, 1] (KLUE reports it times 100).

    Example:

    >>> round(klue_char_f1(["김 씨"], [["B-PS", "O", "O"]], [["B-PS", "O", "I-PS"]]), 4)
    0.9077
    """
    flat_true, flat_pred = _klue_layout(texts, y_true, y_pred)
    return _macro_f1(flat_true, flat_pred, KLUE_NER_LABELS)
