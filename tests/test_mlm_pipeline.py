"""`make_mlm_dataset` / `TokenMasker`: BERT's dynamic masking (15%, 80/10/10) of raw text,
special tokens and padding never chosen, a new draw every epoch, whole words, static shapes,
and a short masked-LM fit that lowers the loss."""

import numpy as np
import pytest
import tensorflow as tf

from bertcls import (BertBackbone, BertMaskedLM, FeatureEncoder, SentencePieceEncoder,
                     TokenMasker, make_mlm_dataset)
from test_family_qa import spm_model

WORDS = ["kim", "went", "to", "seoul", "the", "park", "sun", "rain", "day", "home", "school",
         "is", "was", "and", "in", "on", "at", "it", "he", "she", "we", "they"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["##s", "##ed", "##ing"]
SPECIAL = (0, 1, 2, 3, 4)


def corpus(n=300, seed=0):
    rng = np.random.default_rng(seed)
    suffixes = ["", "", "", "s", "ed", "ing"]
    return [" ".join(rng.choice(WORDS) + rng.choice(suffixes)
                     for _ in range(rng.integers(3, 25))) for _ in range(n)]


def epoch(ds):
    """All batches of one pass: (original ids recovered from labels, masked ids, labels,
    attention mask), rows padded to one width."""
    rows = []
    for features, labels in ds:
        for ids, label, mask in zip(features["input_ids"].numpy(), labels.numpy(),
                                    features["attention_mask"].numpy()):
            rows.append((ids, label, mask))
    width = max(len(r[0]) for r in rows)

    def pad(a, value):
        return np.pad(a, (0, width - len(a)), constant_values=value)

    return (np.stack([pad(r[0], 0) for r in rows]), np.stack([pad(r[1], -100) for r in rows]),
            np.stack([pad(r[2], 0) for r in rows]))


@pytest.fixture(scope="module")
def encoder():
    return FeatureEncoder(VOCAB, lowercase=True, max_seq_len=32)


def test_masking_statistics(encoder):
    texts = corpus()
    ids, labels, mask = epoch(make_mlm_dataset(texts, encoder, batch_size=64, seed=3,
                                               shuffle=False))
    chosen = labels != -100
    original = np.where(chosen, labels, ids)  # unchosen positions are never changed
    assert sorted(encoder.decode(original, skip_special_tokens=True)) == sorted(
        encoder.decode(encoder(texts)["input_ids"].numpy(), skip_special_tokens=True))
    candidates = (mask == 1) & ~np.isin(original, SPECIAL)
    assert candidates.sum() > 4000
    rate = chosen.sum() / candidates.sum()
    assert abs(rate - 0.15) < 0.02, rate
    assert (labels[chosen] == original[chosen]).all()  # labels are the original ids
    as_mask = (ids[chosen] == 4).mean()
    random = ((ids[chosen] != 4) & (ids[chosen] != original[chosen])).mean()
    kept = (ids[chosen] == original[chosen]).mean()
    # A random token equals the original 1 time in 25 (ordinary tokens): about 9.6% changed.
    assert abs(as_mask - 0.8) < 0.04 and abs(random - 0.096) < 0.03, (as_mask, random, kept)
    assert abs(kept - 0.104) < 0.03, kept
    assert not np.isin(ids[chosen & (ids != 4)], SPECIAL).any()  # random ids are ordinary
    # Special tokens and padding: never chosen, never changed.
    assert not chosen[~candidates].any()
    assert np.isin(original[mask == 0], [0]).all()


def test_new_masks_every_epoch_same_masks_for_the_same_seed(encoder):
    texts = corpus(64)
    ds = make_mlm_dataset(texts, encoder, batch_size=16, seed=5, shuffle=False)
    first, second = epoch(ds)[1], epoch(ds)[1]
    assert (first != second).any()
    again = make_mlm_dataset(texts, encoder, batch_size=16, seed=5, shuffle=False)
    np.testing.assert_array_equal(epoch(again)[1], first)
    other = make_mlm_dataset(texts, encoder, batch_size=16, seed=6, shuffle=False)
    assert (epoch(other)[1] != first).any()


def test_whole_word_masking_takes_every_piece(encoder):
    texts = corpus(200, seed=1)
    ids, labels, mask = epoch(make_mlm_dataset(texts, encoder, batch_size=50, seed=2,
                                               shuffle=False, whole_word=True))
    chosen = labels != -100
    original = np.where(chosen, labels, ids)
    pieces = np.isin(original, [VOCAB.index(p) for p in ("##s", "##ed", "##ing")])
    # A piece is chosen exactly when the token before it (its word's start) is.
    before = np.pad(chosen[:, :-1], [(0, 0), (1, 0)])
    assert pieces.sum() > 500 and (chosen[pieces] == before[pieces]).all()
    assert chosen[pieces].any()
    words = (mask == 1) & ~np.isin(original, SPECIAL) & ~pieces
    assert abs(chosen[words].mean() - 0.15) < 0.03


def test_whole_word_masking_with_sentencepiece():
    encoder = SentencePieceEncoder(spm_model(), max_seq_len=16)
    masker = TokenMasker(encoder, mask_probability=0.5, whole_word=True, seed=0)
    texts = ["seoulx kim wentab the park"] * 64
    features = encoder(texts)
    pieces = [encoder.vocabulary[i] for i in features["input_ids"].numpy()[0]]
    assert "▁seoul" in pieces and "x" in pieces  # "seoulx" is one word of two pieces
    _, labels = masker({k: features[k] for k in ("input_ids", "attention_mask")})
    chosen = labels.numpy() != -100
    start = pieces.index("▁seoul")
    np.testing.assert_array_equal(chosen[:, start], chosen[:, start + 1])
    assert 0 < chosen[:, start].mean() < 1


def test_static_shapes_for_tpus(encoder, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(corpus(50)) + "\n\n", encoding="utf-8")
    ds = make_mlm_dataset(str(path), encoder, batch_size=16, seed=0, static_shapes=True)
    shapes = [tuple(f["input_ids"].shape) + tuple(y.shape) for f, y in ds]
    assert shapes == [(16, 32, 16, 32)] * 3  # 50 texts (the blank line skipped) // 16


def test_errors(encoder, tmp_path):
    with pytest.raises(ValueError, match="received 'kim went', which is not a file"):
        make_mlm_dataset("kim went", encoder)
    with pytest.raises(ValueError, match=r"mask_probability must be a number in \[0.0, 1.0\], "
                                         r"received 1.5"):
        make_mlm_dataset(["kim"], encoder, mask_probability=1.5)
    with pytest.raises(ValueError, match="mask_token_rate \\+ random_token_rate"):
        make_mlm_dataset(["kim"], encoder, mask_token_rate=0.9, random_token_rate=0.2)
    with pytest.raises(ValueError, match="no mask token"):
        make_mlm_dataset(["kim"], FeatureEncoder(VOCAB[:4] + WORDS))
    with pytest.raises(ValueError, match="not sentence pairs"):
        make_mlm_dataset((["kim"], ["went"]), encoder)
    with pytest.raises(ValueError, match="static_shapes=True .* bucket_lengths=\\[16\\]"):
        make_mlm_dataset(["kim"], encoder, static_shapes=True, bucket_lengths=[16])
    with pytest.raises(ValueError, match="encoder must be a FeatureEncoder"):
        TokenMasker(None)


def test_a_short_fit_lowers_the_masked_lm_loss(encoder):
    tf.keras.utils.set_random_seed(0)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=16, intermediate_size=32, max_sequence_length=32,
                            dropout=0.0, attention_dropout=0.0)
    model = BertMaskedLM(backbone, encoder=encoder)
    import keras
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    # Eight sentences, repeated: the context predicts the masked words.
    sentences = [" ".join(WORDS[i:i + 6]) for i in range(0, 16, 2)]
    ds = make_mlm_dataset(sentences * 16, encoder, batch_size=32, seed=0)
    history = model.fit(ds, epochs=6, verbose=0).history
    print(history)
    assert history["loss"][-1] < history["loss"][0] - 0.3
    assert 0.0 <= history["accuracy"][-1] <= 1.0
