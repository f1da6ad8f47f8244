"""Micro-batched training steps: one optimizer update per batch, the batch's gradient summed
over slices of at most `micro_batch_tokens` tokens, so that activation memory follows the
slice and not the batch.

A BERT training step keeps every layer's activations for the backward pass: for MiniLM
(6 layers, hidden 384, 12 heads) a 64 x 128 batch holds about 2.7 GB of tensors at its peak
on TensorFlow/CPU, against 0.3 GB of weights and Adam slots. Splitting the batch into slices
that run forward and backward one after the other (`tf.while_loop` with
`parallel_iterations=1`) bounds that to one slice's activations plus one gradient
accumulator, and keeps the update: each slice's mean loss is weighted by its share of the
batch's rows, so the summed gradient equals the whole batch's for losses that average over
examples (the classifier's, the regressor's). A loss averaged over tokens (the tagger's
masked loss) is weighted by rows too, which is close to but not exactly the batch's mean.
Dropout draws new random masks per slice, as it would for a batch of that size.
"""

import keras

from keras import ops


def check_micro_batch_tokens(value, model):
    """Validate `compile(micro_batch_tokens=...)` for `model` (already compiled)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`micro_batch_tokens` must be a positive int or None, received {value!r}.")
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "`micro_batch_tokens` is implemented for the TensorFlow backend only; the "
            f"Keras backend is {keras.backend.backend()!r}. Use a smaller `batch_size` "
            "there to lower training memory.")
    if model.jit_compile is True:
        raise ValueError(
            "`micro_batch_tokens` cannot be combined with `jit_compile=True` (XLA needs "
            "static slice shapes; TPUs compile with XLA): leave one of them unset.")
    return value


def micro_batch_train_step(model, data, tokens):
    """Keras' TensorFlow `train_step`, the batch cut into slices of `tokens // length` rows.

    Args:
        model: a compiled Keras model (a `Task`).
        data: the batch, `(x, y[, sample_weight])` as `fit` gives it.
        tokens: the most tokens (rows x padded length) per slice, at least one row.

    Returns:
        The metrics dict Keras' `train_step` returns.
    """
    import tensorflow as tf
    from keras.src.losses import loss as loss_module

    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    first = next(t for t in tf.nest.flatten(x) if t is not None)
    rows = tf.shape(first)[0]
    length = tf.shape(first)[1] if first.shape.rank and first.shape.rank > 1 else 1
    per_slice = tf.maximum(1, tokens // length)
    slices = (rows + per_slice - 1) // per_slice
    weights = model.trainable_weights
    unused = []  # indices of weights without a gradient, found while tracing the loop body

    def piece(tree, start, size):
        return tf.nest.map_structure(
            lambda t: None if t is None else t[start:start + size], tree)

    def body(i, accumulated):
        start = i * per_slice
        size = tf.minimum(per_slice, rows - start)
        x_i, y_i, w_i = piece(x, start, size), piece(y, start, size), piece(
            sample_weight, start, size)
        with tf.GradientTape() as tape:
            if model._call_has_training_arg:
                y_pred = model(x_i, training=True)
            else:
                y_pred = model(x_i)
            loss = model._compute_loss(x=x_i, y=y_i, y_pred=y_pred, sample_weight=w_i,
                                       training=True)
            model._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss), sample_weight=size)
            share = ops.cast(size, loss.dtype) / ops.cast(rows, loss.dtype)
            scaled = model.optimizer.scale_loss(loss * share)
        gradients = tape.gradient(scaled, weights)
        unused[:] = [k for k, g in enumerate(gradients) if g is None]
        model.compute_metrics(x_i, y_i, y_pred, sample_weight=w_i)
        summed = [a if g is None else a + tf.convert_to_tensor(g)
                  for a, g in zip(accumulated, gradients)]
        return i + 1, summed

    zeros = [tf.zeros(w.shape, w.dtype) for w in weights]
    _, gradients = tf.while_loop(lambda i, _: i < slices, body, (tf.constant(0), zeros),
                                 parallel_iterations=1)
    pairs = [(g, w) for k, (g, w) in enumerate(zip(gradients, weights)) if k not in unused]
    model.optimizer.apply_gradients(pairs)
    return model.get_metrics_result()
