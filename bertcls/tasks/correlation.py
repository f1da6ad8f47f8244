"""Pearson and Spearman correlation, the STS metrics: numpy functions equal to scipy's
`pearsonr` / `spearmanr` (average ranks for ties), and a streaming Pearson for Keras."""

import keras
import numpy as np
from keras import ops


def pearson(x, y):
    """Pearson's correlation coefficient of `x` and `y`, as `scipy.stats.pearsonr(x, y)[0]`.

    Args:
        x, y: array-likes of numbers, shape `(n,)` (or `(n, 1)`), or `(n, k)` for `k`
            targets (one coefficient per column).

    Returns:
        a float (NaN when either side is constant, as scipy), or an array of `k` for 2-D
        input.

    Example:

    >>> round(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 4)
    0.8
    """
    x, y = _columns(x, y, "pearson")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    # Normalising first keeps the products in range (scipy does the same).
    nx, ny = np.linalg.norm(x, axis=0), np.linalg.norm(y, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum((x / nx) * (y / ny), axis=0)
    r = np.where((nx == 0) | (ny == 0), np.nan, np.clip(r, -1.0, 1.0))
    return _scalar_or_array(r)


def spearman(x, y):
    """Spearman's rank correlation of `x` and `y`, as `scipy.stats.spearmanr(x, y)[0]`: the
    Pearson correlation of the ranks, tied values sharing their average rank.

    Args:
        x, y: array-likes of numbers, shape `(n,)` (or `(n, 1)`), or `(n, k)` (one
            coefficient per column).

    Returns:
        a float (NaN when either side is constant), or an array of `k` for 2-D input.

    Example:

    >>> spearman([1, 2, 3, 4], [10, 20, 20, 40])
    0.9486832980505139
    """
    x, y = _columns(x, y, "spearman")
    ranks_x = np.stack([rank(c) for c in x.T], axis=1)
    ranks_y = np.stack([rank(c) for c in y.T], axis=1)
    return pearson(ranks_x, ranks_y)


def rank(values):
    """1-based ranks of a 1-D array, ties given their average rank
    (`scipy.stats.rankdata(values)`).

    >>> rank([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start of each run of equal values, and the average of the ranks the run spans.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    averages = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.repeat(averages, ends - starts)
    return ranks


def _columns(x, y, name):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{name}: x and y must have the same shape, received {x.shape} and "
                         f"{y.shape}.")
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} takes (n,) or (n, k) arrays, received shape {x.shape}.")
    if len(x) < 2:
        raise ValueError(f"{name} needs at least 2 values, received {len(x)}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"{name}: the values contain NaN or infinity.")
    return (x[:, None], y[:, None]) if x.ndim == 1 else (x, y)


def _scalar_or_array(r):
    return float(r[0]) if r.shape == (1,) else r


@keras.saving.register_keras_serializable(package="bertcls")
class StreamingPearson(keras.metrics.Metric):
    """Pearson correlation between targets and predictions over everything seen since the
    last reset (the whole evaluation set), for `compile(metrics=...)`.

    It keeps running means and co-moments, merged batch by batch (Chan et al.), so the result
    is the correlation over the whole set, not an average of per-batch ones; with several
    targets it averages the per-column coefficients. (`keras.metrics.PearsonCorrelation`
    correlates along the last axis of each example instead, which for one score per example
    is not the STS metric.) Spearman needs every prediction at once: use `spearman` on
    `predict` output.

    Args:
        num_outputs: targets per example (columns).
        name, dtype: as for any Keras metric.

    Example:

    >>> metric = StreamingPearson()
    >>> metric.update_state([1.0, 2.0], [1.0, 3.0])
    >>> metric.update_state([3.0, 4.0], [2.0, 4.0])
    >>> round(float(metric.result()), 4)
    0.8
    """

    def __init__(self, num_outputs=1, name="pearson", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.num_outputs = num_outputs
        self._direction = "up"

        def state(name, shape):
            return self.add_variable(shape=shape, initializer="zeros", name=name)

        self.count = state("count", ())
        self.mean_true = state("mean_true", (num_outputs,))
        self.mean_pred = state("mean_pred", (num_outputs,))
        self.m2_true = state("m2_true", (num_outputs,))
        self.m2_pred = state("m2_pred", (num_outputs,))
        self.co_moment = state("co_moment", (num_outputs,))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.reshape(ops.cast(y_true, self.dtype), (-1, self.num_outputs))
        y_pred = ops.reshape(ops.cast(y_pred, self.dtype), (-1, self.num_outputs))
        if sample_weight is None:
            weight = ops.ones_like(y_true[:, :1])
        else:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1, 1))
        n_b = ops.sum(weight)
        safe = ops.maximum(n_b, 1e-12)
        mean_t = ops.sum(weight * y_true, axis=0) / safe
        mean_p = ops.sum(weight * y_pred, axis=0) / safe
        dt, dp = y_true - mean_t, y_pred - mean_p
        m2_t = ops.sum(weight * dt * dt, axis=0)
        m2_p = ops.sum(weight * dp * dp, axis=0)
        c = ops.sum(weight * dt * dp, axis=0)
        n_a = self.count
        n = n_a + n_b
        share = n_b / ops.maximum(n, 1e-12)
        delta_t, delta_p = mean_t - self.mean_true, mean_p - self.mean_pred
        self.mean_true.assign(self.mean_true + delta_t * share)
        self.mean_pred.assign(self.mean_pred + delta_p * share)
        self.m2_true.assign(self.m2_true + m2_t + delta_t * delta_t * n_a * share)
        self.m2_pred.assign(self.m2_pred + m2_p + delta_p * delta_p * n_a * share)
        self.co_moment.assign(self.co_moment + c + delta_t * delta_p * n_a * share)
        self.count.assign(n)

    def result(self):
        denominator = ops.sqrt(self.m2_true * self.m2_pred)
        r = ops.where(denominator > 0,
                      self.co_moment / ops.maximum(denominator, 1e-30), ops.zeros_like(denominator))
        return ops.mean(ops.clip(r, -1.0, 1.0))

    def get_config(self):
        return {"num_outputs": self.num_outputs, "name": self.name, "dtype": self.dtype}
