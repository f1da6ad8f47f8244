"""BertQuestionAnswerer: the whole pipeline (windows, labels, fit, post-processing, offsets)
on a toy task with long contexts, plus labels, config, .keras, presets, JAX and strategies."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, BertQuestionAnswerer, FeatureEncoder, korquad_scores,
                     SpanAccuracy, SpanLoss)
from conftest import REPO
from warm import warm_run

FILLERS = ["가", "나", "다", "라", "마", "바", "사", "아"]
NAMES = ["김", "이", "박", "최"]
PLACES = ["서울", "부산", "대구", "광주"]
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "누가", "어디", "갔다", ".", "##은",
          "##는", "##에", "##항", ","] + FILLERS + NAMES + PLACES)


def toy_examples(n, seed=0):
    """Contexts of filler words around one clause "<name>은 <place>(항)에 갔다."; questions ask
    who (the name, without its particle) or where (the place, with 항 when present, without
    the particle 에). Up to ~70 tokens: several 32-token windows."""
    rng = np.random.default_rng(seed)
    questions, contexts, answers = [], [], []
    for i in range(n):
        before = " ".join(rng.choice(FILLERS, rng.integers(0, 30)))
        after = " ".join(rng.choice(FILLERS, rng.integers(0, 30)))
        name, place = rng.choice(NAMES), rng.choice(PLACES) + ("항" if i % 3 == 0 else "")
        particle = "은" if i % 2 else "는"
        prefix = (before + " ") if before else ""
        context = f"{prefix}{name}{particle} {place}에 갔다. {after}".strip()
        if i % 2:
            questions.append("누가")
            answers.append((name, len(prefix)))
        else:
            questions.append("어디")
            answers.append((place, len(prefix) + len(name) + 2))
        contexts.append(context)
    return questions, contexts, answers


def tiny_model(max_seq_len=32, doc_stride=8, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2,
                            hidden_size=32, intermediate_size=64, dropout=0.0,
                            attention_dropout=0.0, max_sequence_length=64)
    return BertQuestionAnswerer(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=max_seq_len),
                                doc_stride=doc_stride, max_question_len=4, max_answer_length=4)


@pytest.fixture(scope="module")
def trained():
    questions, contexts, answers = toy_examples(64)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    windows = model.encode(questions, contexts, answers)
    model.fit(windows.features, windows.labels, epochs=45, batch_size=16, verbose=0)
    return model, windows, (questions, contexts, answers)


def test_the_pipeline_fits_long_contexts_and_answers_exactly(trained):
    model, windows, (questions, contexts, answers) = trained
    counts = np.bincount(windows.example_index)
    assert counts.max() >= 3 and (counts >= 2).sum() >= 32  # long contexts, several windows
    assert (windows.labels[:, 0] == 0).sum() >= 32  # many windows without the answer
    predicted = model.predict_answers(questions, contexts, batch_size=7)
    scores = korquad_scores({str(i): a.text for i, a in enumerate(predicted)},
                            {str(i): [a[0]] for i, a in enumerate(answers)})
    print("toy fit:", scores)
    assert scores["exact_match"] >= 95
    for answer, context in zip(predicted, contexts):
        assert context[answer.start:answer.end] == answer.text
    exact = [(a.text, a.start) == gold for a, gold in zip(predicted, answers)]
    assert np.mean(exact) >= 0.95  # the right occurrence, not only the right string
    one = model.predict_answer(questions[5], contexts[5])
    assert one.text == predicted[5].text and one.score == pytest.approx(predicted[5].score,
                                                                        abs=1e-4)


def test_batches_sorted_by_length_keep_the_order(trained):
    model, windows, _ = trained
    ordered = model.predict_logits(windows, batch_size=5)
    whole = np.asarray(model.predict_on_batch(windows.features))
    mask = windows.features["attention_mask"].astype(bool)
    np.testing.assert_allclose(ordered[mask], whole[mask], atol=1e-4)


def test_keras_round_trip_gives_the_same_answers(trained, tmp_path):
    model, _, (questions, contexts, _) = trained
    path = tmp_path / "qa.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BertQuestionAnswerer) and loaded.compiled
    assert loaded.get_config()["doc_stride"] == 8 and loaded.max_answer_length == 4
    assert loaded.predict_answers(questions[:8], contexts[:8]) == \
        model.predict_answers(questions[:8], contexts[:8])


def test_config_round_trip_matches_constructor():
    model = tiny_model(doc_stride=5)
    config = model.get_config()
    for key, value in {"doc_stride": 5, "max_question_len": 4, "max_answer_length": 4,
                       "n_best": 20, "null_threshold": None}.items():
        assert config[key] == value
    clone = BertQuestionAnswerer.from_config(config)
    assert clone.get_config() == config
    model.null_threshold = 1.5
    clone = BertQuestionAnswerer.from_config(model.get_config())
    assert clone.null_threshold == 1.5 and clone.get_config()["null_threshold"] == 1.5


@pytest.mark.parametrize("y, message", [
    (np.zeros((3, 2)) + 0.5, "integer"),
    (np.zeros((3, 3), "int32"), r"shape \(windows, 2\)"),
    (np.zeros((2, 2), "int32"), "2 span labels for 3 windows"),
    (np.array([[0, 0], [5, 4], [0, 0]]), "start <= end"),
    (np.array([[0, 0], [1, 40], [0, 0]]), "< length"),
])
def test_bad_labels_raise_before_training(y, message):
    model = tiny_model()
    model.compile()
    windows = model.encode(["누가"] * 3, ["김은 서울에 갔다."] * 3)
    with pytest.raises(ValueError, match=message):
        model.fit(windows.features, y, epochs=1, verbose=0)


def test_constructor_and_predict_errors():
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)
    with pytest.raises(ValueError, match="n_best"):
        BertQuestionAnswerer(backbone, n_best=0)
    with pytest.raises(ValueError, match="`null_threshold` must be None .* received 'low'"):
        BertQuestionAnswerer(backbone, null_threshold="low")
    model = BertQuestionAnswerer(backbone)
    with pytest.raises(ValueError, match="no encoder"):
        model.predict_answers(["누가"], ["김"])
    with pytest.raises(ValueError, match="question and a context string"):
        BertQuestionAnswerer(backbone, encoder=FeatureEncoder(VOCAB)).predict_answer("누가", 3)


def test_loss_and_metric():
    logits = np.full((2, 4, 2), -5.0, "float32")
    logits[0, 1, 0] = logits[0, 2, 1] = 5.0
    y = np.array([[1, 2], [1, 1]])  # row 1 predicts (0, 0): a miss
    metric = SpanAccuracy()
    metric.update_state(y, logits)
    assert float(metric.result()) == 0.5
    expected = np.mean([-np.log(np.exp(5) / (np.exp(5) + 3 * np.exp(-5))), -np.log(0.25)])
    assert float(SpanLoss()(y, logits)) == pytest.approx(expected, rel=1e-5)


def test_from_preset(minilm_path):
    model = BertQuestionAnswerer.from_preset(minilm_path, max_seq_len=48, doc_stride=16,
                                             max_question_len=16)
    assert model.encoder.max_seq_len == 48 and model.backbone.hidden_size == 384
    context = "The quick brown fox jumps over the lazy dog. " * 6
    answer = model.predict_answer("What jumps?", context)
    assert context[answer.start:answer.end] == answer.text and answer.text


@pytest.mark.jax
def test_fit_and_predict_under_jax():
    script = textwrap.dedent("""
        import keras, numpy as np
        from test_question_answering import tiny_model, toy_examples
        assert keras.backend.backend() == "jax"
        questions, contexts, answers = toy_examples(8)
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        windows = model.encode(questions, contexts, answers)
        loss = model.fit(windows.features, windows.labels, epochs=3, verbose=0).history["loss"]
        assert loss[-1] < loss[0], loss
        assert len(model.predict_answers(questions, contexts)) == 8
        print("JAX_OK")
    """)
    done = warm_run("jax", ["-c", script], timeout=240)
    assert "JAX_OK" in done.stdout, done.stderr[-3000:]


@pytest.mark.slow  # a fresh TensorFlow process with two logical CPUs: ~20 s idle
def test_fit_under_a_mirrored_strategy():
    script = textwrap.dedent("""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from bertcls import get_strategy
        from test_question_answering import tiny_model, toy_examples
        questions, contexts, answers = toy_examples(16)
        runtime = get_strategy("mirrored")
        with runtime.scope():
            model = tiny_model()
            model.compile(optimizer=keras.optimizers.Adam(3e-3))
        windows = model.encode(questions, contexts, answers)
        loss = model.fit(windows.features, windows.labels, epochs=3, batch_size=8,
                         verbose=0).history["loss"]
        assert runtime.num_replicas == 2 and loss[-1] < loss[0], loss
        assert len(model.predict_answers(questions, contexts)) == 16
        print("MIRRORED_OK")
    """)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)
    assert "MIRRORED_OK" in done.stdout, done.stderr[-3000:]


def test_unanswerable_questions_train_to_cls_and_the_tuned_threshold_is_saved(tmp_path):
    # Half of the questions have no answer: the context lacks the clause they ask about
    # (only fillers), and they are labelled [CLS] in every window (SQuAD 2.0).
    questions, contexts, answers = toy_examples(48, seed=1)
    rng = np.random.default_rng(2)
    for i in range(0, 48, 2):
        contexts[i] = " ".join(rng.choice(FILLERS, rng.integers(5, 40)))
        answers[i] = None
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    windows = model.encode(questions, contexts, answers)
    assert (windows.labels[np.isin(windows.example_index, range(0, 48, 2))] == 0).all()
    model.fit(windows.features, windows.labels, epochs=40, batch_size=16, verbose=0)
    references = [[a[0]] if a else [] for a in answers]
    spans = model.predict_answers(questions, contexts)  # no threshold: always a span
    assert all(a.text for a in spans[1::2]) and all(np.isfinite(a.null_score) for a in spans)
    threshold, f1 = model.tune_null_threshold(questions, contexts, references)
    assert model.null_threshold == threshold and f1 >= 90
    answered = model.predict_answers(questions, contexts)
    no_answer = [a.text == "" for a in answered]
    assert np.mean(no_answer[0::2]) >= 0.9 and np.mean(no_answer[1::2]) <= 0.1
    path = tmp_path / "null.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.null_threshold == threshold
    assert [a.text for a in loaded.predict_answers(questions, contexts)] == \
        [a.text for a in answered]
