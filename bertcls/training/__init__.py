"""Running the models: tf.data pipelines, datasets, distribution, callbacks and export."""
