"""encode_qa (windows, labels) and best_answers (post-processing) on hand-made cases, and the
windows against Hugging Face's tokenizer (golden file from tests/golden/make_qa_windows.py)."""

import json

import numpy as np
import pytest

from bertcls import FeatureEncoder, best_answers, encode_qa, no_answer_margins
from conftest import REPO

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "where", "kim", "lee", "went",
         "to", "seoul", "busan", "a", "b", "c", "d", "e", "f", "서울", "부산", "##에", "##에서",
         "##은", "##는", "김", "이", "갔다", ".", "?", "누가", "어디"]


def encoder(max_seq_len=10):
    return FeatureEncoder(VOCAB, max_seq_len=max_seq_len)


def texts_of_labels(windows, contexts):
    """The context text each window's label points at ('' for [CLS])."""
    out = []
    for row, (s, e) in enumerate(windows.labels):
        if s == 0:
            out.append("")
            continue
        begin, end = windows.offsets[row, s, 0], windows.offsets[row, e, 1]
        out.append(contexts[windows.example_index[row]][begin:end])
    return out


# --- Against Hugging Face ------------------------------------------------------------------

def test_windows_match_hugging_face_overflowing_tokens():
    golden = json.loads((REPO / "tests" / "golden" / "qa_windows.json").read_text("utf-8"))
    assert len(golden["cases"]) == 5
    for case in golden["cases"]:
        enc = FeatureEncoder.from_preset(str(REPO / "tests" / "data" / "nsmc_cased"),
                                         max_seq_len=case["max_seq_len"])
        windows = encode_qa(enc, [case["question"]], [case["context"]],
                            doc_stride=case["doc_stride"], max_question_len=20)
        assert len(windows.example_index) == len(case["input_ids"])
        for row, ids in enumerate(case["input_ids"]):
            n = len(ids)
            assert windows.features["input_ids"][row, :n].tolist() == ids
            assert windows.features["attention_mask"][row].sum() == n
            assert windows.features["token_type_ids"][row, :n].tolist() == \
                case["token_type_ids"][row]
            context = [s == 1 for s in case["sequence_ids"][row]]
            assert windows.context_mask[row, :n].tolist() == context
            assert not windows.context_mask[row, n:].any()
            hf = np.asarray(case["offsets"][row])
            assert np.array_equal(windows.offsets[row, :n], hf)


# --- Hand-made cases -----------------------------------------------------------------------

def test_layout_and_overlap():
    # budget 10 - 1 - 3 = 6 context tokens a window, 2 shared, so windows start every 4.
    context = "a b c d e f a b c d"
    windows = encode_qa(encoder(), ["who"], [context], doc_stride=2, max_question_len=4)
    ids = windows.features["input_ids"]
    assert ids.shape == (2, 10)
    assert ids[0].tolist() == [2, 5, 3, 13, 14, 15, 16, 17, 18, 3]
    assert ids[1].tolist() == [2, 5, 3, 17, 18, 13, 14, 15, 16, 3]
    assert windows.features["token_type_ids"][1].tolist() == [0, 0, 0] + [1] * 7
    assert windows.context_mask[1].tolist() == [False] * 3 + [True] * 6 + [False]
    assert windows.offsets[1, 3].tolist() == [8, 9]  # "e" of the context


def test_question_is_cut_never_the_context():
    context = "a b c d e f"
    windows = encode_qa(encoder(12), ["who where who where who"], [context], doc_stride=1,
                        max_question_len=2)
    ids = windows.features["input_ids"]
    assert ids[0, :4].tolist() == [2, 5, 6, 3]  # two question tokens kept
    kept = ids[:, 4:][windows.context_mask[:, 4:]]
    assert set(kept.tolist()) == {13, 14, 15, 16, 17, 18}  # every context token is in some window


def test_answer_at_the_window_edge_and_in_two_windows():
    context = "a b c d e f a b c d"
    # "f" (chars 10-11) is the last token of window 0 and the 2nd of window 1 (which starts
    # at "e"): both windows hold it and both are labelled.
    windows = encode_qa(encoder(), ["who"], [context], [("f", 10)], doc_stride=2,
                        max_question_len=4)
    assert windows.labels.tolist() == [[8, 8], [4, 4]]
    assert texts_of_labels(windows, [context]) == ["f", "f"]
    # "d e f a" crosses the end of window 0 and starts before window 1: no window holds it.
    windows = encode_qa(encoder(), ["who"], [context], [("d e f a", 6)], doc_stride=2,
                        max_question_len=4)
    assert windows.labels.tolist() == [[0, 0], [0, 0]]
    # The first context token of the last window.
    windows = encode_qa(encoder(), ["who"], [context], [("e f a b c d", 8)], doc_stride=2,
                        max_question_len=4)
    assert windows.labels.tolist() == [[0, 0], [3, 8]]


def test_unanswerable_windows_point_at_cls():
    contexts = ["a b c d e f a b c d", "a b"]
    windows = encode_qa(encoder(), ["who", "where"], contexts, [("c d", 16), None],
                        doc_stride=2, max_question_len=4)
    assert windows.example_index.tolist() == [0, 0, 1]
    assert windows.labels.tolist() == [[0, 0], [7, 8], [0, 0]]
    assert texts_of_labels(windows, contexts) == ["", "c d", ""]
    # "drop": the answerable question's window without its answer goes; the unanswerable
    # question's windows stay, at [CLS].
    dropped = encode_qa(encoder(), ["who", "where"], contexts, [("c d", 16), None],
                        doc_stride=2, max_question_len=4, answerless_windows="drop")
    assert dropped.example_index.tolist() == [0, 1]
    assert dropped.labels.tolist() == [[7, 8], [0, 0]]
    assert len(dropped.offsets) == len(dropped.context_mask) == 2
    np.testing.assert_array_equal(dropped.features["input_ids"], windows.features["input_ids"][1:])
    with pytest.raises(ValueError, match="`answerless_windows` must be 'cls' or 'drop', "
                                         "received 'none'"):
        encode_qa(encoder(), ["who"], ["a"], doc_stride=2, answerless_windows="none")


def test_korean_particles_attached_to_the_answer():
    # "서울에서" is one word, two tokens: 서울 ##에서. The answer "서울" is the first token.
    context = "김 은 서울에서 부산에 갔다."
    windows = encode_qa(encoder(16), ["어디"], [context], [("서울", 4), ("부산", 9)][:1],
                        doc_stride=2, max_question_len=4)
    assert windows.labels.tolist() == [[5, 5]]
    assert texts_of_labels(windows, [context]) == ["서울"]
    # An answer that ends inside a token covers the whole token (the text then differs).
    windows = encode_qa(encoder(16), ["어디"], [context], [("서울에", 4)], doc_stride=2,
                        max_question_len=4)
    assert texts_of_labels(windows, [context]) == ["서울에서"]


def test_tokens_sharing_one_character_keep_start_before_end():
    # An uncased vocabulary splits a Hangul syllable into jamo pieces: 역 -> 여 ##ㄱ, two
    # tokens with the same offsets (0, 1). run_qa.py's scan would label (##ㄱ, 여), end
    # before start; the answer 역 is both tokens.
    import unicodedata
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "누가"] + [
        unicodedata.normalize("NFD", t) for t in ("여", "##ᆨ", "##청")]
    enc = FeatureEncoder(vocab, lowercase=True, max_seq_len=16)
    windows = encode_qa(enc, ["누가"], ["역청 역"], [("역", 3)], doc_stride=1,
                        max_question_len=2)
    assert windows.offsets[0, 3:8].tolist() == [[0, 1], [0, 1], [1, 2], [3, 4], [3, 4]]
    assert windows.labels.tolist() == [[6, 7]]
    assert texts_of_labels(windows, ["역청 역"]) == ["역"]


def test_empty_context_gives_one_window_without_context():
    windows = encode_qa(encoder(), ["who"], [""], [None], doc_stride=2)
    assert windows.features["input_ids"][0, :4].tolist() == [2, 5, 3, 3]
    assert not windows.context_mask.any()
    assert best_answers(np.zeros((1, 10, 2)), windows, [""])[0].text == ""


def test_bad_input():
    with pytest.raises(ValueError, match="doc_stride=6 must be smaller"):
        encode_qa(encoder(), ["who"], ["a"], doc_stride=6, max_question_len=1)
    with pytest.raises(ValueError, match="not at character 1"):
        encode_qa(encoder(), ["who"], ["a b"], [("b", 1)], doc_stride=1, max_question_len=1)
    with pytest.raises(ValueError, match="2 questions but 1 contexts"):
        encode_qa(encoder(), ["who", "who"], ["a"], doc_stride=1, max_question_len=1)
    with pytest.raises(ValueError, match="single string"):
        encode_qa(encoder(), "who", ["a"], doc_stride=1, max_question_len=1)


# --- Post-processing -----------------------------------------------------------------------

def logits_for(windows, spans, value=4.0):
    """Logits pointing at (row, start, end) triples, zero elsewhere."""
    logits = np.zeros(windows.features["input_ids"].shape + (2,), np.float32)
    for row, start, end in spans:
        logits[row, start, 0] += value
        logits[row, end, 1] += value
    return logits


def test_best_answer_over_windows_and_exact_text():
    contexts = ["a  b, c d e f a b c d"]
    windows = encode_qa(encoder(), ["who"], contexts, doc_stride=2, max_question_len=4)
    logits = logits_for(windows, [(0, 3, 5)], 2.0)
    logits = logits + logits_for(windows, [(1, 5, 6)], 3.0)
    answer = best_answers(logits, windows, contexts)[0]
    assert answer.score == pytest.approx(6.0)
    assert contexts[0][answer.start:answer.end] == answer.text == "f a"
    logits = logits_for(windows, [(0, 3, 5)], 5.0)
    # "a  b," with the double space and the comma, as written.
    assert best_answers(logits, windows, contexts)[0].text == "a  b,"


def test_answers_only_inside_the_context_and_not_too_long():
    contexts = ["a b c d e f"]
    windows = encode_qa(encoder(12), ["who"], contexts, doc_stride=1, max_question_len=4)
    # [CLS] who [SEP] a b c d e f [SEP]: [CLS] and the question score highest, then "a".."f".
    logits = logits_for(windows, [(0, 0, 0)], 100.0) + logits_for(windows, [(0, 1, 1)], 50.0)
    logits += logits_for(windows, [(0, 3, 8)], 2.0)
    assert best_answers(logits, windows, contexts)[0] == ("a b c d e f", 0, 11, 4.0, 200.0)
    # Six tokens is one too many: the best remaining span has one of the two.
    answer = best_answers(logits, windows, contexts, max_answer_length=5)[0]
    assert answer.score == 2.0 and answer.text in {"a", "a b", "a b c", "a b c d", "a b c d e",
                                                   "b c d e f", "c d e f", "d e f", "e f", "f"}
    # A start after its end is never a candidate: "f" .. "a" would score 10.
    logits = logits_for(windows, [(0, 8, 3)], 5.0)
    assert best_answers(logits, windows, contexts)[0].score == 5.0
    with pytest.raises(ValueError, match="shape"):
        best_answers(logits[:, :, :1], windows, contexts)


def test_null_score_is_the_smallest_over_windows_and_the_threshold_decides():
    contexts = ["a  b, c d e f a b c d"]
    windows = encode_qa(encoder(), ["who"], contexts, doc_stride=2, max_question_len=4)
    assert len(windows.example_index) >= 2
    logits = logits_for(windows, [(0, 3, 5)], 2.0)  # span score 4.0
    logits[:, 0, :] = 3.0  # [CLS] start + end: 6.0 in every window ...
    logits[1, 0, :] = 2.5  # ... but 5.0 in the second: the minimum counts
    plain = best_answers(logits, windows, contexts)[0]
    assert (plain.text, plain.score, plain.null_score) == ("a  b,", 4.0, 5.0)
    # margin null - span = 1.0: above 0.5 -> no answer; not above 1.0 -> the span.
    null = best_answers(logits, windows, contexts, null_threshold=0.5)[0]
    assert null == ("", 0, 0, 4.0, 5.0)
    assert best_answers(logits, windows, contexts, null_threshold=1.0)[0].text == "a  b,"
    assert no_answer_margins([plain, null]) == [1.0, 1.0]
    for bad in ("0.5", float("nan"), True):
        with pytest.raises(ValueError, match="`null_threshold` must be None .* received"):
            best_answers(logits, windows, contexts, null_threshold=bad)


def test_no_candidate_is_no_answer_with_a_threshold():
    windows = encode_qa(encoder(), ["who"], [""], max_question_len=4, doc_stride=0)
    logits = np.zeros((1, 10, 2), np.float32)
    assert best_answers(logits, windows, [""])[0].score == -np.inf
    answer = best_answers(logits, windows, [""], null_threshold=100.0)[0]
    assert answer.text == "" and answer.null_score == 0.0
    assert no_answer_margins([answer]) == [1e30]
