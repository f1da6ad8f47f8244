"""Entity scores agree with seqeval's strict IOB2 mode; char_f1 agrees with KLUE's definition."""

import random

import pytest
from seqeval import metrics as seqeval_metrics
from seqeval.scheme import IOB2
from sklearn.metrics import f1_score as sklearn_f1

from bertcls import char_f1, entity_scores, get_entities, read_klue_ner

TAGS = ["O", "B-PS", "I-PS", "B-LC", "I-LC", "B-QT", "I-QT"]


def seqeval_scores(y_true, y_pred, average):
    kwargs = dict(mode="strict", scheme=IOB2, average=average, zero_division=0)
    return {"precision": seqeval_metrics.precision_score(y_true, y_pred, **kwargs),
            "recall": seqeval_metrics.recall_score(y_true, y_pred, **kwargs),
            "f1": seqeval_metrics.f1_score(y_true, y_pred, **kwargs)}


def random_sequences(rng, n):
    lengths = [rng.randint(1, 12) for _ in range(n)]
    return [[rng.choice(TAGS) for _ in range(k)] for k in lengths]


def perturb(rng, sequences, rate):
    return [[rng.choice(TAGS) if rng.random() < rate else t for t in seq] for seq in sequences]


@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_seqeval_on_random_sequences(seed, average):
    rng = random.Random(seed)
    y_true = random_sequences(rng, 40)
    y_pred = perturb(rng, y_true, 0.3)
    ours = entity_scores(y_true, y_pred, average=average)
    theirs = seqeval_scores(y_true, y_pred, average)
    assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_agrees_with_seqeval_on_klue_ner(klue_ner_dir, average):
    examples = read_klue_ner(klue_ner_dir / "klue-ner-v1.1_dev.tsv")[:400]
    rng = random.Random(0)
    y_true = [e.tags for e in examples]
    y_pred = perturb(rng, y_true, 0.05)
    ours = entity_scores(y_true, y_pred, average=average)
    assert ours == pytest.approx(seqeval_scores(y_true, y_pred, average), abs=1e-12)
    assert 0.0 < ours["f1"] < 1.0


def test_strict_mode_cases():
    assert get_entities(["I-PS", "I-PS"]) == []
    assert get_entities(["B-PS", "I-LC", "B-LC", "I-LC"]) == [("PS", 0, 1), ("LC", 2, 4)]
    assert get_entities(["B-PS", "B-PS"]) == [("PS", 0, 1), ("PS", 1, 2)]
    perfect = entity_scores([["B-PS", "I-PS"]], [["B-PS", "I-PS"]])
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_char_f1_matches_klue_definition(seed):
    # KLUE: sklearn f1_score(trues, preds, labels=..., average="macro", zero_division=True).
    rng = random.Random(seed)
    y_true = random_sequences(rng, 30)
    y_pred = perturb(rng, y_true, 0.4)
    flat_true = [t for s in y_true for t in s]
    flat_pred = [t for s in y_pred for t in s]
    labels = [t for t in TAGS if t != "O"]
    expected = sklearn_f1(flat_true, flat_pred, labels=labels, average="macro",
                          zero_division=1)
    assert char_f1(y_true, y_pred, labels=TAGS) == pytest.approx(expected)
    with_o = sklearn_f1(flat_true, flat_pred, labels=TAGS, average="macro", zero_division=1)
    assert char_f1(y_true, y_pred, labels=TAGS, include_o=True) == pytest.approx(with_o)


def test_char_f1_absent_tag_scores_one():
    assert char_f1([["B-PS", "O"]], [["B-PS", "O"]], labels=["B-PS", "B-LC"]) == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: entity_scores([["O"]], [["O"], ["O"]]), "same number of sequences"),
    (lambda: entity_scores([["O", "O"]], [["O"]]), "true tags but"),
    (lambda: entity_scores(["O"], ["O"]), "plain string"),
    (lambda: entity_scores([["X-PS"]], [["O"]]), "IOB2"),
    (lambda: entity_scores([["O"]], [["O"]], average="weighted"), "average"),
    (lambda: char_f1([["O"]], [["O"]]), "no tags"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
