"""Reading `pytorch_model.bin` without torch and without running pickle code.

A `.bin` checkpoint is a zip holding `data.pkl` (a pickled state dict) and raw
tensor storages. Unpickling it normally can execute arbitrary code named in the
pickle. `read_torch_bin` uses an unpickler that accepts only what a state dict
needs (`collections.OrderedDict`, torch's tensor-rebuild functions, storage
types and storage references) and refuses any other global before anything is
called; tensor records are bounds-checked against their storage.
"""

import collections
import pickle
import zipfile

import numpy as np


class UnsafeCheckpointError(ValueError):
    """A `pytorch_model.bin` pickle asks for something other than tensors."""


# Globals a torch state-dict pickle may name; everything else is refused.
_TORCH_STORAGES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
_TORCH_REBUILDERS = ("_rebuild_tensor_v2", "_rebuild_parameter")


class _StorageType:
    """Stands in for `torch.FloatStorage` & co.; only its name is kept."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _numpy_dtype(name):
    if name == "bfloat16":
        import ml_dtypes  # a Keras dependency

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    # Checked before as_strided so that a crafted file cannot read outside the storage.
    if not (isinstance(storage, np.ndarray) and _is_int(storage_offset)
            and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and all(map(_is_int, size + stride))):
        raise UnsafeCheckpointError(
            f"Malformed tensor record (offset {storage_offset!r}, size {size!r}, "
            f"stride {stride!r}).")
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if 0 not in size and last >= storage.size:
        raise UnsafeCheckpointError(
            f"Tensor record (offset {storage_offset}, size {size}, stride {stride}) reaches "
            f"element {last} of a storage of {storage.size}.")
    itemsize = storage.dtype.itemsize
    return np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size,
        strides=tuple(s * itemsize for s in stride)).copy()


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a torch state dict as numpy arrays; refuses every other global."""

    def __init__(self, file, archive, prefix, path):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._path = path

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in _TORCH_REBUILDERS:
            return {"_rebuild_tensor_v2": _rebuild_tensor_v2,
                    "_rebuild_parameter": _rebuild_parameter}[name]
        if module == "torch" and name in _TORCH_STORAGES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"Refusing to load {self._path}: its pickle asks for {module}.{name}, which is "
            f"not a tensor. Only torch state dicts are read (allowed: "
            f"collections.OrderedDict, torch._utils.{{{', '.join(_TORCH_REBUILDERS)}}}, "
            f"torch.*Storage). Nothing from the file was executed.")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: unexpected persistent id {pid!r}.")
        _, storage_type, key, _location, numel = pid
        if storage_type.name not in _TORCH_STORAGES or not _is_int(numel):
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: unexpected storage record {pid!r}.")
        raw = self._archive.read(f"{self._prefix}data/{key}")
        dtype = _numpy_dtype(_TORCH_STORAGES[storage_type.name])
        if numel * dtype.itemsize > len(raw):
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: storage {key!r} holds {len(raw)} bytes, "
                f"fewer than {numel} x {dtype.itemsize}.")
        return np.frombuffer(raw, dtype=dtype, count=numel)


def read_torch_bin(path):
    """Read a `pytorch_model.bin` (torch zip format) as numpy arrays, without torch.

    The pickle inside is read by an unpickler that accepts only what a state
    dict needs (`collections.OrderedDict`, torch's tensor-rebuild functions,
    storage types and storage references); any other global (e.g.
    `os.system`) raises before anything is called.

    Args:
        path: path of the `.bin` file.

    Returns:
        dict mapping weight name to `np.ndarray`.

    Raises:
        UnsafeCheckpointError: the pickle names anything but tensors.
        ValueError: the file is not a torch zip checkpoint (e.g. the legacy
            pre-1.6 format) or holds something other than a dict of tensors.
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a torch zip checkpoint (torch >= 1.6 format); legacy "
            f"formats are not read. Convert it to model.safetensors.")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: expected one data.pkl in the archive, found {pickles}.")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = f"{prefix}byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise ValueError(f"{path}: big-endian checkpoints are not supported.")
        with archive.open(pickles[0]) as f:
            state = _RestrictedUnpickler(f, archive, prefix, path).load()
    if not isinstance(state, dict) or not all(
            isinstance(v, np.ndarray) for v in state.values()):
        raise ValueError(f"{path} does not hold a dict of tensors (a state dict).")
    return dict(state)
