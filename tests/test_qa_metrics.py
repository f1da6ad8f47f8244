"""KorQuAD 1.0 EM/F1: hand-worked cases, and agreement with a line-by-line transcription of the
official evaluate-v1.0.py definition on random strings."""

import collections
import random
import re
import string

import pytest

from bertcls import korquad_scores, normalize_answer
from bertcls.tasks.qa_metrics import answer_f1, exact_match


# --- The official definition, transcribed step by step (the reference) --------------------

def official_normalize(s):
    for mark in ("'", '"', "《", "》", "<", ">", "〈", "〉", "\\(", "\\)", "‘", "’"):
        s = re.sub(mark, " ", s)
    s = s.lower()
    exclude = set(string.punctuation)
    s = "".join(ch for ch in s if ch not in exclude)
    return " ".join(s.split())


def official_f1(prediction, ground_truth):
    prediction_chars = []
    for tok in official_normalize(prediction).split():
        prediction_chars.extend(list(tok))
    truth_chars = []
    for tok in official_normalize(ground_truth).split():
        truth_chars.extend(list(tok))
    common = collections.Counter(prediction_chars) & collections.Counter(truth_chars)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_chars)
    recall = 1.0 * num_same / len(truth_chars)
    return (2 * precision * recall) / (precision + recall)


def official_evaluate(references, predictions):
    f1 = exact = total = 0
    for qid, golds in references.items():
        total += 1
        if qid not in predictions:
            continue
        exact += max(official_normalize(predictions[qid]) == official_normalize(g)
                     for g in golds)
        f1 += max(official_f1(predictions[qid], g) for g in golds)
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


# --- Hand-worked cases ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("《훈민정음》", "훈민정음"),
    ("‘세종’(世宗)", "세종 世宗"),
    ("  A  b\tC ", "a b c"),
    ("1,443년.", "1443년"),
    ("〈해례본〉과 <언해본>", "해례본 과 언해본"),
    ("“인용”", "“인용”"),  # curly double quotes are not in the official list
    ("", ""),
])
def test_normalize_answer_hand_cases(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_ignores_marks_case_and_spacing():
    assert exact_match("《삼국사기》", "삼국사기")
    assert exact_match("The  Beatles", "the beatles.")
    assert not exact_match("삼국사기", "삼국유사")
    # A particle glued to the answer is a miss for EM ...
    assert not exact_match("서울에서", "서울")


def test_character_f1_hand_worked():
    # ... but partial credit for F1: 2 common characters, precision 2/4, recall 2/2.
    assert answer_f1("서울에서", "서울") == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    # Spaces do not count as characters; repeated characters count with multiplicity.
    assert answer_f1("가 가 나", "가나나") == pytest.approx(2 / 3)
    assert answer_f1("", "서울") == 0.0
    assert answer_f1("ABC", "abc") == 1.0


def test_scores_take_the_best_gold_and_count_unanswered():
    references = {"a": ["세종", "세종대왕"], "b": ["1443년"], "c": ["한글"]}
    predictions = {"a": "세종대왕", "b": "1443"}
    scores = korquad_scores(predictions, references)
    assert scores["count"] == 3 and scores["unanswered"] == 1
    assert scores["exact_match"] == pytest.approx(100 / 3)
    # a: 1.0; b: 4 of 5 chars recalled, precision 1 -> 8/9; c: 0.
    assert scores["f1"] == pytest.approx(100 * (1 + 8 / 9) / 3)


def test_scores_reject_bad_input():
    with pytest.raises(ValueError, match="not in `references`"):
        korquad_scores({"x": "a"}, {"a": ["a"]})
    with pytest.raises(ValueError, match="non-empty list"):
        korquad_scores({}, {"a": []})
    with pytest.raises(ValueError, match="must be a string"):
        korquad_scores({"a": None}, {"a": ["a"]})


# --- Random strings against the official definition ----------------------------------------

ALPHABET = list("가나다서울에 \t\n.,!?()'\"《》<>〈〉‘’“”-AbC1") + ["", "  "]


def random_text(rng):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 10)))


def test_agrees_with_the_official_definition_on_random_strings():
    rng = random.Random(0)
    for _ in range(3000):
        a, b = random_text(rng), random_text(rng)
        assert normalize_answer(a) == official_normalize(a)
        assert exact_match(a, b) == (official_normalize(a) == official_normalize(b))
        assert answer_f1(a, b) == pytest.approx(official_f1(a, b), abs=1e-12)
    references = {str(i): [random_text(rng) for _ in range(rng.randint(1, 3))]
                  for i in range(500)}
    predictions = {q: (rng.choice(g) if rng.random() < 0.3 else random_text(rng))
                   for q, g in references.items() if rng.random() < 0.95}
    ours = korquad_scores(predictions, references)
    official = official_evaluate(references, predictions)
    assert ours["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert ours["f1"] == pytest.approx(official["f1"], abs=1e-9)
    assert 0 < ours["exact_match"] < 100 and 0 < ours["f1"] < 100
