"""String-in serving for question answering: a SavedModel that takes question and context strings
and returns answer spans, with the windows and the span search inside the graph."""

import keras

from bertcls.training.export import _check_target

ENDPOINT = "serve"


def export_qa_model(model, path, endpoint=ENDPOINT, overwrite=False):
    """Write a SavedModel mapping `(questions, contexts)` strings to answers.

    Everything `BertQuestionAnswerer.predict_answers` does runs in the graph: WordPiece
    tokenization with character offsets, the question cut to `max_question_len` tokens, the
    context split into windows of the encoder's `max_seq_len` sharing `doc_stride` tokens, the
    model, the `n_best` start and end candidates per window (context tokens only, at most
    `max_answer_length` tokens apart), the best window of each question, and the answer text
    cut from the context by character offsets. Loading needs `import tensorflow_text` (for the
    tokenizer ops), not bertcls or Keras.

    Args:
        model: a `BertQuestionAnswerer` with an encoder.
        path: output directory.
        endpoint: name of the serving function.
        overwrite: write into a non-empty `path` (see `export_text_model`).

    Returns:
        `path`. The SavedModel has `<endpoint>(questions, contexts)`: two string `(batch,)`
        tensors in; a dict out with `answer` (string), `start` and `end` (int32 character
        offsets: `answer == context[start:end]`, counted in Unicode characters) and `score`
        (float32 start + end logit; `-inf` with an empty answer when no span qualifies).

    Raises:
        FileExistsError: `path` is not empty and `overwrite` is False, or is a file.
        ValueError: the backend is not TensorFlow, or the model has no encoder.

    Example:

    >>> import tempfile, tensorflow as tf, tensorflow_text  # noqa: F401
    >>> from bertcls import BertBackbone, BertQuestionAnswerer, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "went", "to", "seoul"]
    >>> backbone = BertBackbone(vocabulary_size=9, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = BertQuestionAnswerer(backbone, encoder=FeatureEncoder(vocab, max_seq_len=8),
    ...                              doc_stride=1, max_question_len=2)
    >>> path = export_qa_model(model, tempfile.mkdtemp())
    >>> served = tf.saved_model.load(path)  # keep a reference while calling it
    >>> out = served.serve(tf.constant(["who"]), tf.constant(["kim went to seoul"]))
    >>> sorted(out)
    ['answer', 'end', 'score', 'start']
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "String-in export builds a TensorFlow SavedModel and needs KERAS_BACKEND="
            f"tensorflow, the backend is {keras.backend.backend()!r}.")
    import tensorflow as tf

    _check_target(path, overwrite)
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        raise ValueError("export_qa_model needs a BertQuestionAnswerer built with an encoder.")

    def serve(questions, contexts):
        return answer_in_graph(model, encoder, questions, contexts)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(encoder)
    archive.add_endpoint(endpoint, serve, input_signature=[
        tf.TensorSpec([None], tf.string, name="questions"),
        tf.TensorSpec([None], tf.string, name="contexts")])
    archive.write_out(str(path), verbose=False)
    return path


def answer_in_graph(model, encoder, questions, contexts):
    """The TensorFlow-ops version of `encode_qa` + the model + `best_answers` (see there)."""
    import tensorflow as tf

    length, stride = encoder.max_seq_len, model.doc_stride
    q_ids, _, _ = encoder.tokenizer.tokenize_with_offsets(questions)
    q_ids = q_ids[:, :model.max_question_len]
    c_ids, c_starts, c_ends = encoder.tokenizer.tokenize_with_offsets(contexts)
    n_question = tf.cast(q_ids.row_lengths(), tf.int32)
    n_context = tf.cast(c_ids.row_lengths(), tf.int32)
    # [CLS] q [SEP] c [SEP], or XLM-R's <s> q </s></s> c </s> (no token types).
    separators = getattr(encoder, "pair_separators", 1)
    budget = length - n_question - 2 - separators
    tf.debugging.assert_greater(
        budget, stride, message=f"max_seq_len {length} leaves no more than doc_stride "
        f"({stride}) context tokens in a window after the question")
    step = budget - stride
    windows = 1 + tf.maximum(0, (n_context - budget + step - 1) // step)

    # === One row per window ===
    example = tf.repeat(tf.range(tf.size(windows)), windows)
    begin = tf.ragged.range(windows).flat_values * tf.gather(step, example)
    kept = tf.minimum(tf.gather(budget, example), tf.gather(n_context, example) - begin)
    positions = tf.ragged.range(kept) + tf.cast(begin, tf.int32)[:, None]
    flat = positions + tf.cast(tf.gather(c_ids.row_splits, example), tf.int32)[:, None]

    def context_part(values):
        return tf.gather(tf.cast(values.flat_values, tf.int32), flat)

    context_ids = context_part(c_ids)
    rows = tf.size(example)

    def column(value):
        return tf.RaggedTensor.from_tensor(tf.fill([rows, 1], value))

    question = tf.gather(tf.cast(q_ids, tf.int32), example)
    ids = tf.concat([column(encoder.cls_token_id), question]
                    + [column(encoder.sep_token_id)] * separators
                    + [context_ids, column(encoder.sep_token_id)], axis=1)
    input_ids = ids.to_tensor(encoder.pad_token_id)
    width = tf.shape(input_ids)[1]
    first = tf.gather(n_question, example) + 1 + separators  # first context position
    total = tf.cast(ids.row_lengths(), tf.int32)
    attention_mask = tf.sequence_mask(total, width, dtype=tf.int32)
    token_type_ids = attention_mask - tf.sequence_mask(first, width, dtype=tf.int32)
    if not getattr(encoder, "segment_ids", True):
        token_type_ids = tf.zeros_like(attention_mask)
    logits = tf.cast(model({"input_ids": input_ids, "attention_mask": attention_mask,
                            "token_type_ids": token_type_ids}, training=False), tf.float32)

    # === The best span of each window, among n_best starts and ends in the context ===
    index = tf.range(width)[None, :]
    in_context = (index >= first[:, None]) & (index < (first + kept)[:, None])
    minus_inf = tf.constant(float("-inf"))
    k = tf.minimum(model.n_best, width)
    start_scores, start_at = tf.math.top_k(tf.where(in_context, logits[..., 0], minus_inf), k)
    end_scores, end_at = tf.math.top_k(tf.where(in_context, logits[..., 1], minus_inf), k)
    span = end_at[:, None, :] - start_at[:, :, None]
    ok = ((span >= 0) & (span < model.max_answer_length)
          & tf.math.is_finite(start_scores)[:, :, None] & tf.math.is_finite(end_scores)[:, None])
    pair = tf.where(ok, start_scores[:, :, None] + end_scores[:, None, :], minus_inf)
    pair = tf.reshape(pair, [rows, -1])
    best_pair = tf.argmax(pair, axis=1, output_type=tf.int32)
    window_score = tf.reduce_max(pair, axis=1)
    start_token = tf.gather(start_at, best_pair // k, batch_dims=1)
    end_token = tf.gather(end_at, best_pair % k, batch_dims=1)

    # === The first best window of each example ===
    count = tf.size(questions)
    best = tf.math.unsorted_segment_max(window_score, example, count)
    is_best = (window_score == tf.gather(best, example)) & tf.math.is_finite(window_score)
    chosen = tf.math.unsorted_segment_min(tf.where(is_best, tf.range(rows), rows), example, count)
    found = chosen < rows
    chosen = tf.where(found, chosen, 0)
    # Token position in the window -> position in the example's context tokens.
    base = tf.cast(tf.gather(c_ids.row_splits, example), tf.int32) + tf.cast(begin, tf.int32)
    last = tf.maximum(tf.size(c_starts.flat_values) - 1, 0)

    def char_offset(values, token):
        at = tf.clip_by_value(tf.gather(base + token - first, chosen), 0, last)
        flat_values = tf.concat([tf.cast(values.flat_values, tf.int32), [0]], axis=0)
        return tf.where(found, tf.gather(flat_values, at), 0)

    char_start = char_offset(c_starts, start_token)
    char_end = char_offset(c_ends, end_token)
    answer = tf.strings.substr(contexts, char_start, char_end - char_start, unit="UTF8_CHAR")
    return {"answer": answer, "start": char_start, "end": char_end,
            "score": tf.where(found, best, minus_inf)}
