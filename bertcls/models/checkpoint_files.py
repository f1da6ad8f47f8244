"""Checkpoint files: a preset read once (`Preset`: its directory, `config.json` and tensors),
and the readers behind it: `model.safetensors` with safetensors' numpy API,
`pytorch_model.bin` with `bertcls.models.torch_bin` (no torch, no pickle code executed),
sharded checkpoints through their `*.index.json` (shards confined to the directory).
"""

import os

from bertcls.hub import resolve_preset
from bertcls.models.config import read_json_object
from bertcls.models.errors import CheckpointError
from bertcls.models.torch_bin import read_torch_bin


class Preset:
    """A preset resolved and read once, passed down the tiers instead of its name.

    `Preset.read(preset)` resolves a Hub id or local directory (`bertcls.resolve_preset`)
    and reads `config.json`; the tensors are read on first use of `tensors` and kept, so the
    backbone and the task head of one `from_preset` share one read.

    Attributes:
        directory: the local directory.
        config: the `config.json` dict (checked to be a JSON object, values unchecked).

    Example:

    >>> import tempfile
    >>> from bertcls import BertBackbone
    >>> d = BertBackbone(vocabulary_size=6, num_layers=1, num_heads=2, hidden_size=8,
    ...                  intermediate_size=16).save_pretrained(tempfile.mkdtemp())
    >>> preset = Preset.read(d)
    >>> preset.config["model_type"], len(preset.tensors) > 0
    ('bert', True)
    """

    def __init__(self, directory, config):
        self.directory = directory
        self.config = config
        self._tensors = None
        self._files = None

    @classmethod
    def read(cls, preset):
        """`preset` if it is a `Preset` already, else its directory and `config.json`.

        Raises:
            bertcls.PresetError: the preset cannot be found.
            CheckpointError: no `config.json`, or one that is not a JSON object.
        """
        if isinstance(preset, cls):
            return preset
        directory = resolve_preset(preset)
        config_path = os.path.join(directory, "config.json")
        if not os.path.exists(config_path):
            raise CheckpointError(f"No config.json in preset directory {directory}.")
        return cls(directory, read_json_object(config_path, "config"))

    @property
    def config_path(self):
        return os.path.join(self.directory, "config.json")

    @property
    def files(self):
        """`checkpoint_files(directory)`, found once (a shard index is parsed once)."""
        if self._files is None:
            self._files = checkpoint_files(self.directory)
        return self._files

    @property
    def tensors(self):
        """Weight name -> `np.ndarray`, every tensor of the checkpoint (`read_checkpoint`),
        read once."""
        if self._tensors is None:
            self._tensors = read_checkpoint(self.directory, self.files)
        return self._tensors

    @property
    def nbytes(self):
        """The size of the weight files, in bytes."""
        return sum(os.path.getsize(p) for p in self.files[1])


def regular_file(path):
    """`path` if it is a regular file (or a link to one); a `CheckpointError` otherwise.

    Devices and pipes (`/dev/zero`, a FIFO) are refused: reading them never ends.
    """
    if not os.path.lexists(path):
        raise CheckpointError(f"{path} does not exist.")
    if not os.path.isfile(path):
        kind = "directory" if os.path.isdir(path) else "device, pipe or dangling link"
        raise CheckpointError(f"{path} is not a regular file (it is a {kind}).")
    return path


def read_safetensors(path):
    """Read a `.safetensors` file as a dict of numpy arrays (no torch).

    Raises:
        CheckpointError: the file is not a readable safetensors file (the
            message names it and safetensors' reason).
    """
    from safetensors import safe_open

    tensors = {}
    try:
        with safe_open(regular_file(path), framework="np") as f:
            for name in f.keys():
                tensors[name] = f.get_tensor(name)
    except CheckpointError:
        raise
    except Exception as e:  # safetensors raises its own error types, and OSError
        raise CheckpointError(
            f"Cannot read {path}: it is not a valid safetensors file, or is truncated "
            f"({type(e).__name__}: {e}).") from e
    return tensors


def _inside(path, root):
    return os.path.commonpath([path, root]) == root


def shard_path(directory, shard, index):
    """The path of shard `shard` named by the index file `index`, confined to `directory`.

    A shard name is a relative path inside the checkpoint directory: no
    absolute path, no `..`, and no symlink resolving outside the directory
    (except into the `blobs/` folder of a huggingface_hub cache snapshot,
    where every file is such a link).

    Raises:
        CheckpointError: naming the index file and the shard.
    """
    parts = shard.replace("\\", "/").split("/")
    if not shard or os.path.isabs(shard) or ".." in parts or ":" in parts[0]:
        raise CheckpointError(
            f"{index} names the shard {shard!r}, which is not a file name inside the "
            f"checkpoint directory (absolute paths and '..' are refused).")
    root = os.path.realpath(directory)
    roots = [root]
    if os.path.basename(os.path.dirname(root)) == "snapshots":  # huggingface_hub cache
        roots.append(os.path.realpath(os.path.join(root, os.pardir, os.pardir, "blobs")))
    path = os.path.join(directory, shard)
    if not any(_inside(os.path.realpath(path), r) for r in roots):
        raise CheckpointError(
            f"{index} names the shard {shard!r}, which resolves to "
            f"{os.path.realpath(path)}, outside the checkpoint directory {root} (a symlink?).")
    return regular_file(path)


def read_shard_index(index, directory):
    """Read a `*.index.json` shard index: {shard path: [weight names]}.

    Raises:
        CheckpointError: the index is not valid JSON, has no `weight_map`
            object mapping names to shard file names, or names a shard
            outside the directory.
    """
    content = read_json_object(index, "shard index")
    weight_map = content.get("weight_map")
    if not isinstance(weight_map, dict):
        raise CheckpointError(
            f"{index} has no 'weight_map' object (weight name -> shard file); found "
            f"{'no weight_map' if weight_map is None else type(weight_map).__name__}.")
    shards = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str):
            raise CheckpointError(
                f"{index}: weight_map[{name!r}] must be a shard file name, received "
                f"{shard!r}.")
        shards.setdefault(shard, []).append(name)
    return {shard_path(directory, shard, index): names for shard, names in sorted(shards.items())}


WEIGHT_FILES = (("model.safetensors", read_safetensors), ("pytorch_model.bin", read_torch_bin))


def checkpoint_files(directory):
    """The weight files `read_checkpoint` reads in `directory`, and their reader.

    Returns:
        (reader, {path: weight names listed by an index, or None}).
    """
    for filename, reader in WEIGHT_FILES:
        path = os.path.join(directory, filename)
        if os.path.lexists(path):
            return reader, {regular_file(path): None}
        index = path + ".index.json"
        if os.path.lexists(index):
            return reader, read_shard_index(index, directory)
    raise CheckpointError(
        f"No weights in {directory}: expected one of model.safetensors, "
        f"pytorch_model.bin or their .index.json; found {sorted(os.listdir(directory))}.")


def read_checkpoint(directory, found=None):
    """Read the weights of a Hugging Face model directory.

    Looks for, in order: `model.safetensors`, `model.safetensors.index.json`
    (shards), `pytorch_model.bin`, `pytorch_model.bin.index.json` (shards).

    Args:
        directory: the model directory.
        found: `checkpoint_files(directory)` when the caller has it already (`Preset`).

    Returns:
        dict mapping weight name to `np.ndarray`.

    Raises:
        CheckpointError: none of these files exists, or one cannot be read
            (the message names the file).
    """
    reader, files = found or checkpoint_files(directory)
    tensors = {}
    for path in files:
        part = reader(path)
        twice = sorted(set(part) & set(tensors))
        if twice:
            raise CheckpointError(f"{path} holds {twice[:5]}, already read from another shard.")
        tensors.update(part)
    return tensors
