"""The errors raised while reading a checkpoint (weights, `config.json`, shard indexes)."""


class CheckpointError(ValueError):
    """A checkpoint file could not be read, or its contents are invalid.

    Raised for every failure while reading a model checkpoint or its
    `config.json` (truncated or corrupt files, invalid JSON, wrong field
    types, tensors that do not match the config); the message names the file.
    A `ValueError`, so code that caught `ValueError` keeps working.

    Example:

    >>> issubclass(CheckpointError, ValueError)
    True
    """


class UnsafeCheckpointError(CheckpointError):
    """A `pytorch_model.bin` pickle asks for something other than tensors.

    Raised before anything named in the pickle is called; nothing from the
    file is executed.

    Example:

    >>> issubclass(UnsafeCheckpointError, CheckpointError)
    True
    """
