"""`SentenceEmbedder`: a bi-encoder (Sentence-BERT): one vector per text, for similarity and
semantic search."""

import os

import keras
import numpy as np

from bertcls.hub import resolve_preset
from bertcls.tasks.base import Task, check_values
from bertcls.tasks.pooling import SentencePooling, pooling_modes
from bertcls.tasks.model_card import write_model_card
from bertcls.tasks.pretrained import family_backbone, load_task_parts, save_encoder_files
from bertcls.tasks.prediction import predict_features, sorted_batches, text_encoder
from bertcls.tasks.similarity import cosine_similarity, semantic_search
from bertcls.tasks.st_directory import (ST_ALLOW_PATTERNS, read_sentence_transformers,
                                        write_sentence_transformers)
from bertcls.text.inputs import embeddings_or_texts, string_list


@keras.saving.register_keras_serializable(package="bertcls")
class SentenceEmbedder(Task):
    """A sentence-embedding model: a backbone and `SentencePooling`, as
    sentence-transformers builds one (Transformer -> Pooling -> optional Normalize).

    The model maps the encoder's dict to one float32 vector per text; `embed` maps strings.
    Train it on pairs with `SiameseModel` (cosine-similarity regression, in-batch negatives, or
    the SBERT NLI classifier); use it with `similarity` and `search`, export it with
    `export_text_model` (strings in, embeddings out).

    Args:
        backbone: a `BertBackbone` or another family's backbone (any Keras model mapping the
            three int inputs to a dict with `sequence_output`).
        pooling: `"mean"` (sentence-transformers' default), `"cls"`, `"max"`,
            `"mean_sqrt_len_tokens"`, `"weightedmean"`, `"lasttoken"`, or a list of them
            (concatenated); see `SentencePooling`.
        normalize: L2-normalise the embeddings (sentence-transformers' `Normalize` module).
        encoder: optional `FeatureEncoder`, needed by the text methods and string-in export.
            It is not applied in `call`: the model takes the encoder's dict.

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids` `(batch, length)`.

    Returns:
        float32 embeddings `(batch, embedding_dim)`.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
    >>> backbone = BertBackbone(vocabulary_size=7, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = SentenceEmbedder(backbone, normalize=True,
    ...                          encoder=FeatureEncoder(vocab, max_seq_len=8))
    >>> model.embed(["good movie", "bad movie", "movie"]).shape
    (3, 8)
    >>> round(model.similarity("good movie", "good movie"), 5)
    1.0
    >>> model.search("good movie", ["bad", "good movie"], top_k=1)["indices"].tolist()
    [1]
    """

    def __init__(self, backbone, pooling="mean", normalize=False, encoder=None, **kwargs):
        modes = pooling_modes(pooling)
        # === Layers ===
        head = SentencePooling(list(modes), normalize=normalize, name="pooling")
        outputs = self._wire(backbone, head, encoder, **kwargs)

        # === Config ===
        self.pooling = head.pooling
        self.normalize = normalize
        self.embedding_dim = outputs.shape[-1]

    @classmethod
    def from_preset(cls, preset, pooling=None, normalize=None, max_seq_len=None, **kwargs):
        """A sentence-transformers directory, or a plain BERT checkpoint, as a `SentenceEmbedder`.

        A directory with `modules.json` (Transformer -> Pooling -> optional Normalize, the
        layout sentence-transformers saves) gives the pooling mode(s) of `1_Pooling/config.json`,
        `normalize=True` when a Normalize module follows, and `max_seq_len` from
        `sentence_bert_config.json`'s `max_seq_length` (and its `do_lower_case`); the BERT files
        may sit in the root or in the Transformer module's folder. Any other directory or Hub
        id is a plain checkpoint: mean pooling, no normalisation, `max_seq_len=128`. The
        backbone family follows `config.json`'s `model_type` (`backbone_from_preset`), the
        tokenizer the files present (`encoder_from_preset`: WordPiece `vocab.txt` or a
        SentencePiece model, e.g. a multilingual XLM-R sentence model).

        Args:
            preset: a local directory or a Hugging Face Hub id.
            pooling, normalize: override the directory's settings.
            max_seq_len: the encoder's maximum length (tokens beyond it are cut, as
                sentence-transformers does at `max_seq_length`).
            **kwargs: other constructor arguments (`name`).

        Raises:
            ValueError: an unsupported module (e.g. Dense), an unreadable config, or a pooling
                dimension that does not match the checkpoint, naming the file.
        """
        directory = resolve_preset(preset, allow_patterns=ST_ALLOW_PATTERNS)
        settings = read_sentence_transformers(directory) or {
            "transformer_dir": directory, "pooling": "mean", "normalize": False,
            "max_seq_len": None, "lowercase": False, "embedding_dimension": None}
        source = settings["transformer_dir"]
        overrides = {"lowercase": True} if settings["lowercase"] else {}
        _, backbone, encoder = load_task_parts(
            source, max_seq_len if max_seq_len is not None else settings["max_seq_len"],
            pooling="tokens", **overrides)
        dimension = settings["embedding_dimension"]
        if dimension is not None and dimension != backbone.hidden_size:
            raise ValueError(
                f"The Pooling config in {directory} expects {dimension}-dimensional token "
                f"vectors, the checkpoint's hidden size is {backbone.hidden_size}.")
        return cls(backbone,
                   pooling=settings["pooling"] if pooling is None else pooling,
                   normalize=settings["normalize"] if normalize is None else normalize,
                   encoder=encoder, **kwargs)

    def check_labels(self, y, features=None):
        """Targets for fitting the embedder directly (e.g. distillation to teacher vectors):
        finite floats `(batch, embedding_dim)`."""
        y = np.asarray(y)
        if y.ndim != 2 or y.shape[1] != self.embedding_dim:
            raise ValueError(f"Targets must have shape (batch, {self.embedding_dim}), "
                             f"received {y.shape}.")
        check_values(y, -np.inf, np.inf, False, "Target embeddings")
        return y

    # --- From text to vectors --------------------------------------------------------------

    def embed(self, texts, batch_size=32):
        """Embeddings of a list of strings, float32 `(n, embedding_dim)`, in input order.

        Texts are encoded in large chunks, sorted by token length into batches of one length
        (a multiple of 16 tokens off TensorFlow; padding never changes an embedding: pooling is
        masked) and run through a compiled forward pass, like `BertClassifier.predict_texts`.
        """
        texts = string_list(texts)
        out = np.zeros((len(texts), self.embedding_dim), np.float32)
        for indices, features, _ in sorted_batches(text_encoder(self), texts, batch_size):
            out[indices] = predict_features(self, features)
        return out

    def _vectors(self, x, batch_size, what):
        return embeddings_or_texts(x, what, lambda texts: self.embed(texts, batch_size))

    def similarity(self, a, b, batch_size=32):
        """Cosine similarity between texts or embeddings.

        Args:
            a, b: a string, a list of strings, or embeddings `(n, dim)` / `(dim,)`.
            batch_size: examples per forward pass when embedding texts.

        Returns:
            a float when `a` and `b` are single strings, else float32 `(len(a), len(b))`.
        """
        scores = cosine_similarity(self._vectors(a, batch_size, "a"),
                                   self._vectors(b, batch_size, "b"))
        return float(scores[0, 0]) if isinstance(a, str) and isinstance(b, str) else scores

    def search(self, queries, corpus, top_k=10, batch_size=32):
        """Top-k semantic search: the corpus rows most cosine-similar to each query.

        Embed a large corpus once with `embed` and pass the embeddings here for every search;
        a list of strings is embedded on each call.

        Args:
            queries: a string or a list of strings (or query embeddings).
            corpus: a list of strings, or their embeddings `(n, dim)`.
            top_k: hits per query.
            batch_size: examples per forward pass when embedding texts.

        Returns:
            dict with `indices` (int64 corpus rows) and `scores` (float32 cosine), best first:
            shape `(k,)` for one string query, else `(len(queries), k)`.
        """
        hits = semantic_search(self._vectors(queries, batch_size, "queries"),
                               self._vectors(corpus, batch_size, "corpus"), top_k=top_k)
        if isinstance(queries, str):
            hits = {k: v[0] for k, v in hits.items()}
        return hits

    # --- Serialization ---------------------------------------------------------------------

    def save_pretrained(self, directory, **card):
        """Write a sentence-transformers directory: the backbone as a Hugging Face base model
        of its family (`config.json`, `model.safetensors`) with the encoder's tokenizer files
        in the root, `modules.json` (Transformer -> Pooling -> Normalize when `normalize`),
        `1_Pooling/config.json`, `sentence_bert_config.json` (`max_seq_length` = the
        encoder's) and a model card. `SentenceTransformer(directory)` gives the same
        embeddings; `SentenceEmbedder.from_preset(directory)` reads it back.

        Args:
            directory: output directory (created if missing).
            **card: model card fields, as in `BertClassifier.save_pretrained`.

        Returns:
            The directory path.

        Example:

        >>> import os, tempfile
        >>> from bertcls import BertBackbone, FeatureEncoder
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
        >>> backbone = BertBackbone(vocabulary_size=7, num_layers=1, num_heads=2,
        ...                         hidden_size=8, intermediate_size=16)
        >>> model = SentenceEmbedder(backbone, normalize=True,
        ...                          encoder=FeatureEncoder(vocab, max_seq_len=8))
        >>> directory = model.save_pretrained(tempfile.mkdtemp())
        >>> sorted(os.listdir(directory))[:4]
        ['1_Pooling', '2_Normalize', 'README.md', 'config.json']
        >>> loaded = SentenceEmbedder.from_preset(directory)
        >>> loaded.normalize, loaded.encoder.max_seq_len
        (True, 8)
        """
        backbone = family_backbone(self)
        os.makedirs(directory, exist_ok=True)
        backbone.save_pretrained(directory)
        save_encoder_files(self.encoder, directory, backbone.max_input_length)
        write_sentence_transformers(
            directory, self.pooling, self.normalize, backbone.hidden_size,
            getattr(self.encoder, "max_seq_len", None))
        write_model_card(directory, architecture=f"{backbone.hf_architecture}Model",
                         pipeline_tag="sentence-similarity", task_class="SentenceEmbedder",
                         **card)
        return directory

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.quantization_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "pooling": self.pooling,
            "normalize": self.normalize,
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
        }
