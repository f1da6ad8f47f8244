"""SentenceEmbedder and SentencePooling: sentence-transformers' pooling definitions, directory
loading, parity with sentence-transformers on all-MiniLM-L6-v2, similarity and search."""

import json
import pathlib

import keras
import numpy as np
import pytest

import bertcls
from bertcls import (BertBackbone, FeatureEncoder, SentenceEmbedder, SentencePooling,
                     cosine_similarity, semantic_search)
from warm import warm_run

REPO = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "sbert_golden.npz"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "the", "very",
         "##s", "plot", "actor", "boring", "fun"]
TEXTS = ["good movie", "the very bad movies", "boring plot", "fun fun fun actor", "",
         "the good the bad and the boring movie plot actor"]


def tiny_backbone(seed=0, hidden=16):
    keras.utils.set_random_seed(seed)
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                        hidden_size=hidden, intermediate_size=32, max_sequence_length=64)


def tiny_embedder(**kwargs):
    return SentenceEmbedder(tiny_backbone(), encoder=FeatureEncoder(VOCAB, max_seq_len=32),
                            **kwargs)


# --- numpy references: sentence-transformers 6.x Pooling._forward_padded, written out -------

def st_pool(mode, x, mask):
    m = mask.astype(np.float64)[..., None]
    x = x.astype(np.float64)
    length = x.shape[1]
    if mode == "cls":
        return x[np.arange(len(x)), mask.argmax(1)]
    if mode == "max":
        return np.where(m > 0, x, -np.inf).max(1)
    if mode in ("mean", "mean_sqrt_len_tokens"):
        count = np.maximum(m.sum(1), 1e-9)
        return (x * m).sum(1) / (count if mode == "mean" else np.sqrt(count))
    if mode == "weightedmean":
        w = m * (np.arange(1, length + 1)[None, :, None] - mask.argmax(1)[:, None, None])
        return (x * w).sum(1) / np.maximum(w.sum(1), 1e-9)
    if mode == "lasttoken":
        flipped = mask[:, ::-1]
        last = np.where(flipped.max(1) == 0, length - 1, flipped.argmax(1))
        return (x * m)[np.arange(len(x)), length - last - 1]
    raise AssertionError(mode)


def pooling_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 5)).astype("float32") - 2.0  # mostly negative: max must skip pads
    mask = np.array([[1, 1, 1, 0, 0, 0],     # right padding
                     [1, 1, 1, 1, 1, 1],     # none
                     [0, 0, 1, 1, 1, 0],     # left and right padding
                     [1, 0, 0, 0, 0, 0]], "int32")
    x[mask == 0] = 50.0  # padding values that would win a max or move a mean
    return x, mask


@pytest.mark.parametrize("mode", bertcls.tasks.pooling.POOLING_MODES)
def test_pooling_modes_match_sentence_transformers_definitions(mode):
    x, mask = pooling_batch()
    got = SentencePooling(mode)({"sequence_output": x, "attention_mask": mask})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), st_pool(mode, x, mask),
                               rtol=1e-5, atol=1e-5)


def test_pooling_concatenates_in_order_and_normalizes():
    x, mask = pooling_batch()
    layer = SentencePooling(["max", "cls"], normalize=True)
    got = keras.ops.convert_to_numpy(layer({"sequence_output": x, "attention_mask": mask}))
    want = np.concatenate([st_pool("max", x, mask), st_pool("cls", x, mask)], axis=1)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape({"sequence_output": (None, None, 5)}) == (None, 10)
    again = SentencePooling.from_config(layer.get_config())
    assert again.modes == ("max", "cls") and again.normalize


def test_pooling_is_float32_under_mixed_precision():
    x, mask = pooling_batch()
    out = SentencePooling("mean")({"sequence_output": x.astype("float16"),
                                   "attention_mask": mask})
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


@pytest.mark.parametrize("kwargs, message", [
    (dict(pooling="sum"), "must be one of"),
    (dict(pooling=[]), "must be one of"),
    (dict(normalize="yes"), "True or False"),
])
def test_pooling_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SentencePooling(**kwargs)


def test_pooling_needs_the_mask():
    with pytest.raises(ValueError, match="attention_mask"):
        SentencePooling()({"sequence_output": np.zeros((1, 2, 3), "float32")})


# --- The model ---------------------------------------------------------------------------

def test_exported():
    for name in ("SentenceEmbedder", "SentencePooling", "cosine_similarity", "semantic_search"):
        assert name in bertcls.__all__


def test_embed_matches_the_model_on_padded_features_in_input_order():
    model = tiny_embedder(pooling="mean")
    got = model.embed(TEXTS, batch_size=2)
    assert got.shape == (len(TEXTS), 16) and got.dtype == np.float32
    # One text at a time (no padding at all) against the sorted, bucketed batches.
    for text, row in zip(TEXTS, got):
        single = keras.ops.convert_to_numpy(model(model.encoder([text])))
        padded = keras.ops.convert_to_numpy(model(
            FeatureEncoder(VOCAB, max_seq_len=32)([text])))  # padded to 32
        np.testing.assert_allclose(row, single[0], atol=1e-5)
        np.testing.assert_allclose(row, padded[0], atol=1e-5)


def test_embed_errors():
    model = tiny_embedder()
    with pytest.raises(ValueError, match="single string"):
        model.embed("good movie")
    with pytest.raises(ValueError, match="no encoder"):
        SentenceEmbedder(tiny_backbone()).embed(["good"])


def test_normalize_gives_unit_vectors():
    got = tiny_embedder(normalize=True, pooling="max").embed(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


def test_keras_round_trip_and_config(tmp_path):
    model = tiny_embedder(pooling=["cls", "mean"], normalize=True)
    before = model.embed(TEXTS)
    assert model.embedding_dim == 32
    path = tmp_path / "embedder.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, SentenceEmbedder)
    assert loaded.pooling == ["cls", "mean"] and loaded.normalize is True
    np.testing.assert_allclose(loaded.embed(TEXTS), before, atol=1e-6)
    config = model.get_config()
    assert set(config) == {"name", "trainable", "backbone", "pooling", "normalize", "encoder"}


def test_target_vectors_are_checked():
    model = tiny_embedder()
    assert model.check_labels(np.zeros((2, 16), "float32")).shape == (2, 16)
    with pytest.raises(ValueError, match=r"shape \(batch, 16\)"):
        model.check_labels(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="NaN"):
        model.check_labels(np.full((2, 16), np.nan, "float32"))


def test_similarity_and_search_on_texts():
    model = tiny_embedder(normalize=False)
    vectors = model.embed(TEXTS)
    assert model.similarity("good movie", "good movie") == pytest.approx(1.0, abs=1e-6)
    matrix = model.similarity(TEXTS[:2], TEXTS)
    np.testing.assert_allclose(matrix, cosine_similarity(vectors[:2], vectors), atol=1e-6)
    hits = model.search(TEXTS[1], vectors, top_k=3)
    assert hits["indices"].shape == (3,) and hits["indices"][0] == 1
    assert hits["scores"][0] == pytest.approx(1.0, abs=1e-5)
    batch = model.search(TEXTS[:2], TEXTS, top_k=2)
    assert batch["indices"].shape == (2, 2) and batch["indices"][:, 0].tolist() == [0, 1]


def test_string_in_export_gives_the_embeddings(tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    model = tiny_embedder(pooling="max", normalize=True)
    path = bertcls.export_text_model(model, tmp_path / "export")
    served = tf.saved_model.load(str(path))
    got = served.serve(tf.constant(TEXTS))["embeddings"].numpy()
    np.testing.assert_allclose(got, model.embed(TEXTS), atol=1e-5)


def test_from_preset_other_family_through_modules_json(tmp_path):
    write_st_directory(tmp_path, {"pooling_mode": "mean"},
                       backbone=bertcls.DistilBertBackbone(
                           vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=16,
                           intermediate_size=32, max_sequence_length=64))
    model = SentenceEmbedder.from_preset(str(tmp_path))
    assert type(model.backbone).__name__ == "DistilBertBackbone"
    assert model.embed(TEXTS[:2]).shape == (2, 16)


# --- numpy similarity helpers ------------------------------------------------------------

def test_cosine_similarity_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 7)), rng.normal(size=(4, 7))
    want = np.array([[u @ v / np.linalg.norm(u) / np.linalg.norm(v) for v in b] for u in a])
    np.testing.assert_allclose(cosine_similarity(a, b), want, rtol=1e-5)
    assert cosine_similarity(np.zeros(7), b).tolist() == [[0.0] * 4]  # a zero vector: 0
    with pytest.raises(ValueError, match="sizes differ"):
        cosine_similarity(a, b[:, :3])
    with pytest.raises(ValueError, match="numeric"):
        cosine_similarity(["a"], b)


@pytest.mark.parametrize("top_k", [1, 3, 50, 200])
def test_semantic_search_equals_a_full_sort(top_k):
    rng = np.random.default_rng(2)
    corpus = rng.normal(size=(50, 6)).astype("float32")
    corpus[10] = corpus[3] * 2.0  # a tie: same direction, the lower index must come first
    queries = rng.normal(size=(9, 6))
    queries[0] = corpus[3]
    hits = semantic_search(queries, corpus, top_k=top_k, chunk_size=4)
    scores = cosine_similarity(queries, corpus)
    k = min(top_k, 50)
    for q in range(len(queries)):
        order = sorted(range(50), key=lambda i: (-scores[q, i], i))[:k]
        assert hits["indices"][q].tolist() == order
        np.testing.assert_allclose(hits["scores"][q], scores[q, order], rtol=1e-6)
    if k >= 2:
        assert hits["indices"][0, :2].tolist() == [3, 10]


def test_semantic_search_errors():
    with pytest.raises(ValueError, match="top_k"):
        semantic_search(np.ones((1, 2)), np.ones((3, 2)), top_k=0)
    with pytest.raises(ValueError, match="sizes differ"):
        semantic_search(np.ones((1, 2)), np.ones((3, 4)))


# --- sentence-transformers directories ---------------------------------------------------

def write_st_directory(root, pooling_config, modules=None, transformer_path="",
                       st_config=None, pooled_dimension=16, backbone=None):
    root = pathlib.Path(root)
    transformer = root / transformer_path
    backbone = backbone or tiny_backbone(seed=3)
    backbone.save_pretrained(transformer, encoder=FeatureEncoder(VOCAB, lowercase=True))
    if modules is None:
        modules = [
            {"idx": 0, "name": "0", "path": transformer_path,
             "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.models.Normalize"},
        ]
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir(exist_ok=True)
    pooling_config = dict(pooling_config)
    if pooled_dimension is not None:
        pooling_config["word_embedding_dimension"] = pooled_dimension
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config))
    (transformer / "sentence_bert_config.json").write_text(
        json.dumps(st_config or {"max_seq_length": 24, "do_lower_case": False}))
    return root


def test_from_preset_reads_a_sentence_transformers_directory(tmp_path):
    write_st_directory(tmp_path, {"pooling_mode_cls_token": False,
                                  "pooling_mode_mean_tokens": True,
                                  "pooling_mode_max_tokens": True})
    model = SentenceEmbedder.from_preset(str(tmp_path))
    # Legacy keys concatenate in sentence-transformers' order: max before mean.
    assert model.pooling == ["max", "mean"] and model.normalize is True
    assert model.encoder.max_seq_len == 24 and model.embedding_dim == 32
    plain = SentenceEmbedder.from_preset(str(tmp_path), pooling="cls", normalize=False,
                                         max_seq_len=40)
    assert plain.pooling == "cls" and not plain.normalize and plain.encoder.max_seq_len == 40


def test_from_preset_module_folder_new_style_pooling_and_no_normalize(tmp_path):
    modules = [{"idx": 0, "name": "0", "path": "0_Transformer",
                "type": "sentence_transformers.base.modules.transformer.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"}]
    write_st_directory(tmp_path, {"pooling_mode": "weightedmean"}, modules=modules,
                       transformer_path="0_Transformer",
                       st_config={"max_seq_length": 20, "do_lower_case": True})
    model = SentenceEmbedder.from_preset(str(tmp_path))
    assert model.pooling == "weightedmean" and model.normalize is False
    assert model.encoder.max_seq_len == 20 and model.encoder.lowercase


def test_from_preset_plain_bert_checkpoint(tmp_path):
    tiny_backbone().save_pretrained(tmp_path, encoder=FeatureEncoder(VOCAB))
    model = SentenceEmbedder.from_preset(str(tmp_path))
    assert model.pooling == "mean" and not model.normalize
    assert model.encoder.max_seq_len == 64  # min(128, the checkpoint's 64 positions)
    with pytest.raises(ValueError, match="exceeds"):
        SentenceEmbedder.from_preset(str(tmp_path), max_seq_len=100)


POOLING = "sentence_transformers.models.Pooling"


@pytest.mark.parametrize("change, message", [
    (dict(modules=[{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "path": "1_Pooling", "type": POOLING},
                   {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]),
     "Dense.*not supported"),
    (dict(modules=[{"idx": 0, "path": "1_Pooling", "type": POOLING}]),
     r"modules \['Pooling'\]"),
    (dict(modules={"0": "Transformer"}), "non-empty JSON list"),
    (dict(modules=[{"idx": 0, "path": "..", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "path": "1_Pooling", "type": POOLING}]),
     "outside the model directory"),
    (dict(pooling_config={"pooling_mode": "sum"}), "pooling mode must be one of"),
    (dict(pooling_config={"pooling_mode_mean_tokens": "yes"}), "true or false"),
    (dict(pooling_config={"pooling_mode": "mean"}, pooled_dimension=384), "384-dimensional"),
    (dict(st_config={"max_seq_length": "long"}), "max_seq_length"),
])
def test_from_preset_errors_name_the_file(tmp_path, change, message):
    kwargs = dict(pooling_config={"pooling_mode_mean_tokens": True})
    kwargs.update(change)
    write_st_directory(tmp_path / "m", **kwargs)
    with pytest.raises(ValueError, match=message):
        SentenceEmbedder.from_preset(str(tmp_path / "m"))


def test_from_preset_unreadable_json(tmp_path):
    root = write_st_directory(tmp_path, {"pooling_mode_mean_tokens": True})
    (root / "1_Pooling" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"1_Pooling.config\.json"):
        SentenceEmbedder.from_preset(str(root))


# --- Parity with sentence-transformers on the real checkpoint ----------------------------

@pytest.fixture(scope="module")
def minilm_embedder(minilm_path):
    return SentenceEmbedder.from_preset(str(minilm_path))


def test_minilm_settings_from_its_directory(minilm_embedder):
    assert minilm_embedder.pooling == "mean" and minilm_embedder.normalize is True
    assert minilm_embedder.encoder.max_seq_len == 256 and minilm_embedder.embedding_dim == 384


def test_parity_with_sentence_transformers(minilm_embedder):
    golden = np.load(GOLDEN)
    texts = golden["texts"].tolist()
    got = minilm_embedder.embed(texts, batch_size=32)
    assert np.abs(got - golden["embeddings"]).max() <= 1e-5
    # The same checkpoint with each pooling mode and no Normalize (the first rows), as one
    # model that concatenates the three (one compiled forward pass).
    n, dim = len(golden["cls"]), minilm_embedder.embedding_dim
    model = SentenceEmbedder(minilm_embedder.backbone, pooling=["cls", "max", "mean"],
                             encoder=minilm_embedder.encoder)
    pooled = model.embed(texts[:n])
    for i, key in enumerate(("cls", "max", "mean_unnormalized")):
        assert np.abs(pooled[:, i * dim:(i + 1) * dim] - golden[key]).max() <= 1e-5, key


@pytest.mark.slow  # about 30 s on an idle 2-core machine: loading the checkpoint under JAX
@pytest.mark.jax
def test_parity_under_jax(minilm_path):
    script = f"""
import numpy as np, keras
assert keras.backend.backend() == "jax"
from bertcls import SentenceEmbedder
golden = np.load({str(GOLDEN)!r})
texts = golden["texts"].tolist()[::6]
model = SentenceEmbedder.from_preset({str(minilm_path)!r})
diff = np.abs(model.embed(texts) - golden["embeddings"][::6]).max()
assert diff <= 1e-5, diff
print("JAX-OK", diff)
"""
    result = warm_run("jax", ["-c", script], timeout=600)
    assert "JAX-OK" in result.stdout, result.stderr[-3000:]
