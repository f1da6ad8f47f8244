"""Entity scores agree with seqeval (strict schemes and default mode) on thousands of random
sequences; klue_entity_f1 / klue_char_f1 agree with an implementation of KLUE-baseline's
functions on thousands of random cases; char_f1 is the per-tag mean it says it is."""

import math
import random
import warnings

import pytest
from seqeval import scheme as seqeval_scheme
from seqeval.metrics import sequence_labeling, v1
from sklearn.metrics import f1_score as sklearn_f1

from bertcls import (char_f1, entity_scores, get_entities, klue_char_f1, klue_entity_f1,
                     read_klue_ner)
from bertcls.tasks.klue_metrics import KLUE_NER_LABELS

TAGS = ["O", "B-PS", "I-PS", "B-LC", "I-LC", "B-QT", "I-QT"]
TYPES = ["PS", "LC", ""]
# Tags seqeval reads without complaint, odd spellings included: strict mode strips "-" around
# the type ("B--PS" is B-PS, "BPS" is B-PS too) and keeps "_" ("B_PS" is its own type).
STRICT_ODD = ["B--PS", "BPS", "B_PS", "I-PS-", "I_PS", "B", "I", "O-PS"]
# Default mode splits at the first "-" after the prefix ("B--PS" is type "-PS").
DEFAULT_ODD = ["B--PS", "B", "I", "E", "S", "B-", "I-"]


def seqeval_scores(y_true, y_pred, average, mode, scheme):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "strict":
            p, r, f, _ = v1.precision_recall_fscore_support(
                y_true, y_pred, average=average, zero_division=0,
                scheme=getattr(seqeval_scheme, scheme))
        else:
            p, r, f, _ = sequence_labeling.precision_recall_fscore_support(
                y_true, y_pred, average=average, zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def random_tags(rng, prefixes, odd, n_types=2):
    tags = ["O"] * 3 + [f"{p}-{t}" for p in prefixes for t in TYPES[:n_types]]
    return tags + odd if rng.random() < 0.3 else tags


def random_case(rng, tags):
    y_true = [[rng.choice(tags) for _ in range(rng.randint(0, 9))]
              for _ in range(rng.randint(1, 5))]
    rate = rng.choice([0.0, 0.1, 0.4, 1.0])
    y_pred = [[rng.choice(tags) if rng.random() < rate else t for t in seq] for seq in y_true]
    return y_true, y_pred


def same(ours, theirs):
    assert ours.keys() == theirs.keys()
    for key in ours:
        if math.isnan(theirs[key]):
            assert math.isnan(ours[key]), (key, ours, theirs)
        else:
            assert ours[key] == pytest.approx(theirs[key], abs=1e-12), (key, ours, theirs)


@pytest.mark.parametrize("mode, scheme, prefixes, odd", [
    ("strict", "IOB2", "BI", STRICT_ODD),
    ("strict", "IOE2", "IE", []),
    ("strict", "IOBES", "BIES", []),
    ("strict", "BILOU", "BILU", []),
    ("default", None, "BI", DEFAULT_ODD),
    ("default", None, "BIES", DEFAULT_ODD),
])
def test_agrees_with_seqeval_on_random_sequences(mode, scheme, prefixes, odd):
    rng = random.Random(f"{mode}{scheme}{prefixes}")
    cases = 1500
    for _ in range(cases):
        tags = random_tags(rng, prefixes, odd)
        y_true, y_pred = random_case(rng, tags)
        for average in ("micro", "macro"):
            kwargs = {"scheme": scheme} if mode == "strict" else {}
            ours = entity_scores(y_true, y_pred, average=average, mode=mode, **kwargs)
            same(ours, seqeval_scores(y_true, y_pred, average, mode, scheme or "IOB2"))


@pytest.mark.parametrize("mode", ["strict", "default"])
@pytest.mark.parametrize("average", ["micro", "macro"])
def test_agrees_with_seqeval_on_klue_ner(klue_ner_dir, average, mode):
    examples = read_klue_ner(klue_ner_dir / "klue-ner-v1.1_dev.tsv")[:400]
    rng = random.Random(0)
    y_true = [e.tags for e in examples]
    y_pred = [[rng.choice(TAGS) if rng.random() < 0.05 else t for t in seq] for seq in y_true]
    ours = entity_scores(y_true, y_pred, average=average, mode=mode)
    same(ours, seqeval_scores(y_true, y_pred, average, mode, "IOB2"))
    assert 0.0 < ours["f1"] < 1.0


def test_modes_differ_where_seqeval_says():
    # A stray I- starts an entity in default mode only.
    assert get_entities(["I-PS", "I-PS"]) == []
    assert get_entities(["I-PS", "I-PS"], mode="default") == [("PS", 0, 2)]
    assert get_entities(["B-PS", "I-LC", "B-LC", "I-LC"]) == [("PS", 0, 1), ("LC", 2, 4)]
    assert get_entities(["B-PS", "B-PS"]) == [("PS", 0, 1), ("PS", 1, 2)]
    assert get_entities(["B--PS", "I-PS"]) == [("PS", 0, 2)]
    assert get_entities(["B_PS", "I-PS"]) == [("_PS", 0, 1)]
    assert get_entities(["B--PS", "I-PS"], mode="default") == [("-PS", 0, 1), ("PS", 1, 2)]
    assert get_entities(["S-PS", "B-LC", "E-LC"], scheme="IOBES") == [("PS", 0, 1),
                                                                      ("LC", 1, 3)]
    perfect = entity_scores([["B-PS", "I-PS"]], [["B-PS", "I-PS"]])
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_empty_inputs_follow_seqeval():
    for mode in ("strict", "default"):
        for y in ([["O"]], [[]], [[], ["O", "O"]]):
            assert entity_scores(y, y, mode=mode) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
            assert all(math.isnan(v) for v in entity_scores(y, y, "macro", mode).values())
            same(entity_scores(y, y, "macro", mode), seqeval_scores(y, y, "macro", mode, "IOB2"))
        with pytest.raises(ValueError, match="no sequences"):
            entity_scores([], [], mode=mode)


def klue_baseline_layout(texts, tags):
    """KLUE-baseline's evaluation sequence: [CLS] O, tags of the non-" " characters, [SEP] O.

    (`KlueNERProcessor._create_examples` skips the `" "` lines; `validation_epoch_end`
    wraps each sentence's characters with the [CLS] and [SEP] labels, O in the gold.)
    """
    flat = []
    for text, seq in zip(texts, tags):
        flat += ["O"] + [tag for ch, tag in zip(text, seq) if ch != " "] + ["O"]
    return flat


def klue_baseline_entity_macro_f1(preds, labels, label_list):
    """klue_ner_entity_macro_f1: label ids -> names, ONE sequence, seqeval strict IOB2."""
    preds_label = [label_list[p] for p in preds]
    labels_label = [label_list[t] for t in labels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sequence_labeling.f1_score([labels_label], [preds_label], average="macro",
                                          mode="strict", scheme=seqeval_scheme.IOB2) * 100.0


def klue_baseline_char_macro_f1(preds, labels, label_list):
    """klue_ner_char_macro_f1: sklearn macro F1 over every label index, zero_division=True."""
    return sklearn_f1(labels, preds, labels=list(range(len(label_list))), average="macro",
                      zero_division=True) * 100.0


def random_klue_case(rng):
    texts, y_true, y_pred = [], [], []
    kinds = rng.sample(["PS", "LC", "OG", "DT", "TI", "QT"], rng.randint(1, 6))
    labels = ["O"] * 4 + [f"{p}-{k}" for k in kinds for p in "BI"]
    for _ in range(rng.randint(1, 4)):
        n = rng.randint(0, 12)
        text = "".join(rng.choice("가나다 ab") for _ in range(n))
        gold = [rng.choice(labels) for _ in range(n)]
        rate = rng.choice([0.0, 0.2, 0.6])
        texts.append(text)
        y_true.append(gold)
        y_pred.append([rng.choice(labels) if rng.random() < rate else t for t in gold])
    return texts, y_true, y_pred


def test_klue_metrics_equal_klue_baseline_on_random_cases():
    rng = random.Random(12)
    label_list = list(KLUE_NER_LABELS)
    checked_nan = 0
    for _ in range(2000):
        texts, y_true, y_pred = random_klue_case(rng)
        labels = [label_list.index(t) for t in klue_baseline_layout(texts, y_true)]
        preds = [label_list.index(t) for t in klue_baseline_layout(texts, y_pred)]
        entity = klue_baseline_entity_macro_f1(preds, labels, label_list)
        char = klue_baseline_char_macro_f1(preds, labels, label_list)
        if math.isnan(entity):
            checked_nan += 1
            assert math.isnan(klue_entity_f1(texts, y_true, y_pred))
        else:
            assert klue_entity_f1(texts, y_true, y_pred) * 100 == pytest.approx(entity, abs=1e-9)
        assert klue_char_f1(texts, y_true, y_pred) * 100 == pytest.approx(char, abs=1e-9)
    assert checked_nan < 200


def test_klue_metrics_on_klue_ner(klue_ner_dir):
    examples = read_klue_ner(klue_ner_dir / "klue-ner-v1.1_dev.tsv")[:300]
    rng = random.Random(1)
    texts = [e.text for e in examples]
    y_true = [e.tags for e in examples]
    y_pred = [[rng.choice(TAGS) if rng.random() < 0.05 else t for t in seq] for seq in y_true]
    label_list = list(KLUE_NER_LABELS)
    labels = [label_list.index(t) for t in klue_baseline_layout(texts, y_true)]
    preds = [label_list.index(t) for t in klue_baseline_layout(texts, y_pred)]
    char = klue_char_f1(texts, y_true, y_pred)
    assert char * 100 == pytest.approx(klue_baseline_char_macro_f1(preds, labels, label_list))
    assert klue_entity_f1(texts, y_true, y_pred) * 100 == pytest.approx(
        klue_baseline_entity_macro_f1(preds, labels, label_list))
    # O is one of the 13 averaged labels: the O-free variant is a different number.
    assert char != pytest.approx(char_f1(y_true, y_pred, labels=label_list[:-1]))


def test_klue_drops_spaces_and_joins_sentences():
    # Gold marks the space inside "김 씨" O; KLUE drops it, so the prediction that tags it
    # I-PS still matches one PS entity, while seqeval on the raw characters sees two.
    texts = ["김 씨"]
    y_true, y_pred = [["B-PS", "O", "I-PS"]], [["B-PS", "I-PS", "I-PS"]]
    assert klue_entity_f1(texts, y_true, y_pred) == 1.0
    assert entity_scores(y_true, y_pred, average="macro")["f1"] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_char_f1_is_the_per_tag_mean(seed):
    rng = random.Random(seed)
    y_true = [[rng.choice(TAGS) for _ in range(rng.randint(1, 12))] for _ in range(30)]
    y_pred = [[rng.choice(TAGS) if rng.random() < 0.4 else t for t in s] for s in y_true]
    flat_true = [t for s in y_true for t in s]
    flat_pred = [t for s in y_pred for t in s]
    labels = [t for t in TAGS if t != "O"]
    expected = sklearn_f1(flat_true, flat_pred, labels=labels, average="macro",
                          zero_division=1)
    assert char_f1(y_true, y_pred, labels=TAGS) == pytest.approx(expected)
    with_o = sklearn_f1(flat_true, flat_pred, labels=TAGS, average="macro", zero_division=1)
    assert char_f1(y_true, y_pred, labels=TAGS, include_o=True) == pytest.approx(with_o)
    assert char_f1([["B-PS", "O"]], [["B-PS", "O"]], labels=["B-PS", "B-LC"]) == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: entity_scores([["O"]], [["O"], ["O"]]), "same number of sequences"),
    (lambda: entity_scores([["O", "O"]], [["O"]]), "true tags but"),
    (lambda: entity_scores(["O"], ["O"]), "plain string"),
    (lambda: entity_scores([["X-PS"]], [["O"]]), "not valid in the IOB2"),
    (lambda: entity_scores([[""]], [["O"]]), "not valid in the IOB2"),
    (lambda: entity_scores([["E-PS"]], [["O"]]), "not valid in the IOB2"),
    (lambda: entity_scores([["B_PS"]], [["O"]], mode="default"), "without warning"),
    (lambda: entity_scores([["PS"]], [["O"]], mode="default"), "without warning"),
    (lambda: entity_scores([["O"]], [["O"]], average="weighted"), "average"),
    (lambda: entity_scores([["O"]], [["O"]], mode="conll"), "mode"),
    (lambda: entity_scores([["O"]], [["O"]], scheme="IOB1"), "IOB1"),
    (lambda: entity_scores([["O"]], [["O"]], mode="default", scheme="IOBES"), "strict"),
    (lambda: get_entities("B-PS"), "plain string"),
    (lambda: char_f1([["O"]], [["O"]]), "no tags"),
    (lambda: klue_char_f1(["ab"], [["O"]], [["O"]]), "2 characters but 1 tags"),
    (lambda: klue_char_f1(["a"], [["B-XX"]], [["O"]]), "KLUE-NER's labels"),
    (lambda: klue_entity_f1(["a", "b"], [["O"]], [["O"]]), "2 texts"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
