"""SQuAD 2.0 EM/F1, HasAns/NoAns and the best no-answer threshold: equality with the official
evaluate-v2.0.py on random cases (golden file from tests/golden/make_squad_v2_golden.py, which
runs the official script), and hand-worked cases."""

import json
import pathlib

import pytest

from bertcls import best_no_answer_threshold, squad_v2_scores
from bertcls.tasks.squad_v2_metrics import squad_f1, squad_normalize

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden" / "squad_v2_scores.json"
CASES = json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{len(c['references'])}q")
def test_equal_to_the_official_evaluator(case):
    ours = squad_v2_scores(case["predictions"], case["references"], case["no_answer_probs"],
                           case["threshold"])
    official = case["official"]
    assert sorted(ours) == sorted(official)
    for key, value in official.items():
        assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_golden_cases_cover_what_matters():
    # Ties, unanswerable questions, empty predictions and a threshold that fires somewhere.
    case = CASES[-1]
    probs = list(case["no_answer_probs"].values())
    assert len(set(probs)) < len(probs) / 5
    assert any(not golds for golds in case["references"].values())
    assert any(p == "" for p in case["predictions"].values())
    assert any(c["official"]["best_f1_thresh"] > 0 for c in CASES)
    assert any(c["official"]["exact"] != c["official"]["best_exact"] for c in CASES)


def test_tie_order_follows_the_probability_dict():
    # Two questions with the same probability: answering the first (right) and then the
    # second (wrong) peaks inside the tie. The official search reports the tied value.
    references = {"a": ["x"], "b": []}
    predictions = {"a": "x", "b": "y"}
    first = squad_v2_scores(predictions, references, {"a": 0.5, "b": 0.5})
    assert (first["best_exact"], first["best_exact_thresh"]) == (100.0, 0.5)
    second = squad_v2_scores(predictions, references, {"b": 0.5, "a": 0.5})
    assert (second["best_exact"], second["best_exact_thresh"]) == (50.0, 0.0)


def test_threshold_replaces_predictions():
    references = {"a": ["Seoul"], "b": []}
    predictions = {"a": "Seoul", "b": "Busan"}
    plain = squad_v2_scores(predictions, references)
    assert plain["exact"] == 50.0 and "best_exact" not in plain
    both_null = squad_v2_scores(predictions, references, {"a": 0.9, "b": 0.9}, 0.5)
    assert (both_null["HasAns_exact"], both_null["NoAns_exact"]) == (0.0, 100.0)


def test_word_level_normalisation_and_f1():
    assert squad_normalize("An apple, the Pie.") == "apple pie"
    assert squad_normalize("theatre") == "theatre"
    assert squad_f1("the cat sat", "cat sat down") == pytest.approx(0.8)
    # Gold answers that normalise to nothing are dropped; with none left, "" is right.
    assert squad_v2_scores({"a": ""}, {"a": ["the"]})["exact"] == 100.0
    assert squad_v2_scores({"a": ""}, {"a": ["the"]})["HasAns_total"] == 1


def test_best_threshold_helper():
    threshold, best = best_no_answer_threshold(
        {"a": "x", "b": "y", "c": "z"}, {"a": ["x"], "b": [], "c": ["w"]},
        {"a": 0.1, "b": 0.8, "c": 0.4}, metric="exact")
    assert (threshold, best) == (0.1, pytest.approx(200 / 3))
    with pytest.raises(ValueError, match="`metric` must be 'f1' or 'exact', received 'em'"):
        best_no_answer_threshold({"a": "x"}, {"a": ["x"]}, {"a": 0.1}, metric="em")


@pytest.mark.parametrize("kwargs, message", [
    (dict(predictions={}, references={"a": ["x"]}), r"1 missing \(e.g. \['a'\]\)"),
    (dict(predictions={"a": "x", "z": "y"}, references={"a": ["x"]}), r"1 unknown"),
    (dict(predictions={"a": 3}, references={"a": ["x"]}), "must be a string, received int"),
    (dict(predictions={"a": "x"}, references={"a": "x"}), "list of answer strings"),
    (dict(predictions={}, references={}), "non-empty dict"),
    (dict(predictions={"a": "x"}, references={"a": ["x"]}, no_answer_probs={"a": float("nan")}),
     "finite number, received nan"),
    (dict(predictions={"a": "x"}, references={"a": ["x"]}, no_answer_probs={}),
     "`no_answer_probs` must have exactly"),
    (dict(predictions={"a": "x"}, references={"a": ["x"]}, no_answer_threshold="high"),
     "`no_answer_threshold` must be a number, received 'high'"),
])
def test_bad_input_names_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        squad_v2_scores(**kwargs)
