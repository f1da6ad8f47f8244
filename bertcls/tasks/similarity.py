"""Cosine similarity and top-k semantic search over embeddings (numpy, any backend)."""

import numpy as np


def _matrix(x, what):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"`{what}` must be numeric embeddings, received dtype {x.dtype}.")
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"`{what}` must be one vector or a (n, dim) matrix, received shape "
                         f"{x.shape}.")
    return x.astype(np.float32, copy=False)


def _unit(x):
    # torch.nn.functional.normalize's clamp: a zero vector stays zero (similarity 0).
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cosine_similarity(a, b):
    """Cosine similarity of every row of `a` with every row of `b`.

    Args:
        a: `(n, dim)` embeddings (or one `(dim,)` vector).
        b: `(m, dim)` embeddings (or one `(dim,)` vector).

    Returns:
        float32 `(n, m)` (sentence-transformers' `cos_sim`).

    Example:

    >>> cosine_similarity([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0]]).astype(float).round(4).tolist()
    [[1.0], [0.7071]]
    """
    a, b = _matrix(a, "a"), _matrix(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"Embedding sizes differ: {a.shape[1]} and {b.shape[1]}.")
    return _unit(a) @ _unit(b).T


def semantic_search(query_embeddings, corpus_embeddings, top_k=10, chunk_size=1024):
    """The `top_k` corpus rows most cosine-similar to each query, best first.

    The corpus is embedded once by the caller (`SentenceEmbedder.embed`) and searched as
    often as needed; queries are scored in chunks of `chunk_size` rows, so memory stays at
    `chunk_size x len(corpus)` floats. Equal scores keep corpus order.

    Args:
        query_embeddings: `(q, dim)` (or one `(dim,)` vector).
        corpus_embeddings: `(n, dim)`.
        top_k: hits per query (at most `n`).
        chunk_size: queries scored at once.

    Returns:
        dict with `indices` int64 `(q, k)` (rows of the corpus) and `scores` float32
        `(q, k)` (cosine similarities), `k = min(top_k, n)`.

    Example:

    >>> corpus = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> hits = semantic_search([[1.0, 0.1]], corpus, top_k=2)
    >>> hits["indices"].tolist(), hits["scores"].astype(float).round(3).tolist()
    ([[0, 2]], [[0.995, 0.774]])
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive integer, received {top_k!r}.")
    queries = _unit(_matrix(query_embeddings, "query_embeddings"))
    corpus = _unit(_matrix(corpus_embeddings, "corpus_embeddings"))
    if queries.shape[1] != corpus.shape[1]:
        raise ValueError(f"Embedding sizes differ: queries {queries.shape[1]}, corpus "
                         f"{corpus.shape[1]}.")
    k = min(top_k, len(corpus))
    indices = np.zeros((len(queries), k), np.int64)
    scores = np.zeros((len(queries), k), np.float32)
    for begin in range(0, len(queries), chunk_size):
        block = queries[begin:begin + chunk_size] @ corpus.T
        if k < len(corpus):
            # Keep every row tied with the k-th score, then sort exactly (score, then index).
            kth = -np.partition(-block, k - 1, axis=1)[:, k - 1:k]
            block_rows = [np.flatnonzero(row >= t) for row, t in zip(block, kth)]
        else:
            block_rows = [np.arange(len(corpus))] * len(block)
        for j, (row, candidates) in enumerate(zip(block, block_rows)):
            order = candidates[np.lexsort((candidates, -row[candidates]))][:k]
            indices[begin + j], scores[begin + j] = order, row[order]
    return {"indices": indices, "scores": scores}
