"""`export_text_model` never writes over a non-empty directory unless told to (issue #10)."""

import keras
import numpy as np
import pytest

from bertcls import BertBackbone, BertClassifier, FeatureEncoder, export_text_model

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="string-in export builds a TensorFlow SavedModel")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad"]


def tiny_model():
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16)
    return BertClassifier(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=8))


def test_non_empty_directory_is_refused_then_overwritten_when_asked(tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    target = tmp_path / "served"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    model = tiny_model()
    with pytest.raises(FileExistsError, match="served: the directory is not empty.*overwrite"):
        export_text_model(model, target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]  # nothing written

    export_text_model(model, target, overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"  # other files are left alone
    served = tf.saved_model.load(str(target))
    probabilities = served.serve(tf.constant(["good", "bad"]))["probabilities"].numpy()
    np.testing.assert_allclose(probabilities, model.predict_texts(["good", "bad"])[
        "probabilities"], rtol=1e-5, atol=1e-6)

    # A second export over the first one, as a re-run of a script would do, is refused too.
    with pytest.raises(FileExistsError, match="not empty"):
        export_text_model(model, target)


def test_empty_or_new_directory_is_fine_and_a_file_is_refused(tmp_path):
    model = tiny_model()
    (tmp_path / "empty").mkdir()
    export_text_model(model, tmp_path / "empty")
    assert (tmp_path / "empty" / "saved_model.pb").exists()
    (tmp_path / "file").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="it is a file"):
            export_text_model(model, tmp_path / "file", overwrite=overwrite)
