"""export_qa_model: strings in, answer spans out, the same answers as predict_answers (windows,
n-best search and character offsets all inside the SavedModel)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops for the loaded SavedModel)

from bertcls import export_qa_model
from test_question_answering import tiny_model, toy_examples


@pytest.fixture(scope="module")
def model():
    model = tiny_model(max_seq_len=32, doc_stride=8)
    rng = np.random.default_rng(1)
    for variable in model.weights:  # spread the logits so spans differ between windows
        variable.assign(variable.numpy() + 0.3 * rng.standard_normal(variable.shape))
    return model


def test_exported_answers_equal_predict_answers(model, tmp_path):
    questions, contexts, _ = toy_examples(24, seed=3)
    questions[0], contexts[0] = "누가", ""  # no context at all: no answer
    contexts[1] = "김은  서울에, 갔다."  # double space and a comma inside
    expected = model.predict_answers(questions, contexts)
    windows = model.encode(questions, contexts)
    assert np.bincount(windows.example_index).max() >= 3
    path = export_qa_model(model, tmp_path / "qa")
    served = tf.saved_model.load(str(path))
    out = served.serve(tf.constant(questions), tf.constant(contexts))
    answers = [t.decode("utf-8") for t in out["answer"].numpy()]
    starts, ends, scores = out["start"].numpy(), out["end"].numpy(), out["score"].numpy()
    for i, want in enumerate(expected):
        assert (answers[i], starts[i], ends[i]) == (want.text, want.start, want.end), i
        if np.isfinite(want.score):
            assert scores[i] == pytest.approx(want.score, abs=1e-4)
        else:
            assert scores[i] == -np.inf
    assert answers[0] == "" and sum(a != "" for a in answers) == 23
    for i in range(1, 24):
        assert contexts[i][starts[i]:ends[i]] == answers[i]


def test_refuses_a_non_empty_directory(model, tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        export_qa_model(model, tmp_path)
