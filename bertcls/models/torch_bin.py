"""Reading `pytorch_model.bin` without torch and without running pickle code.

A `.bin` checkpoint is a zip holding `data.pkl` (a pickled state dict) and raw
tensor storages. Unpickling it normally can execute arbitrary code named in the
pickle. `read_torch_bin` unpickles with an interpreter that resolves only what a
state dict needs and refuses every opcode that could call or mutate anything
else; tensor records are checked against their storages before a byte of
storage is read, and the bytes inflated from the zip are capped
(docs/security.md states the limits).
"""

import collections
import io
import math
import os
import pickle
import zipfile
import zlib

import numpy as np

from bertcls.models.errors import CheckpointError, UnsafeCheckpointError

# === Limits (docs/security.md) ===
# A BERT-family data.pkl is tens of kilobytes (about 110 bytes per tensor); unpickling a
# hostile one costs up to ~80 bytes of memory per pickle byte (benchmarks/checkpoint_memory.py).
MAX_PICKLE_BYTES = 2**20
# A compressed data.pkl may inflate to at most MAX_PICKLE_RATIO times its stored size + slack.
MAX_PICKLE_RATIO = 10
PICKLE_SLACK = 256 * 2**10
# Storage bytes inflated from one file: at most MAX_INFLATION times the file size + slack
# (torch stores entries uncompressed, so a torch-written file needs at most 1x).
MAX_INFLATION = 2
INFLATION_SLACK = 16 * 2**20

# Storage type names a torch state-dict pickle may name, and their element types.
TORCH_STORAGES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
_REBUILDERS = ("_rebuild_tensor_v2", "_rebuild_parameter")
# Opcodes a state dict never uses: instantiating classes, the copyreg registry, and sets and
# buffers (an empty set costs 216 bytes for a 1-byte opcode).
_REFUSED_OPCODES = ("INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "EMPTY_SET",
                    "ADDITEMS", "FROZENSET", "BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER")


def _numpy_dtype(name):
    if name == "bfloat16":
        import ml_dtypes  # a Keras dependency

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _is_count(value):
    return type(value) is int and value >= 0


class _StorageType:
    """Stands in for `torch.FloatStorage` & co.; only its name is kept."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class _Storage:
    """A storage entry of the zip, not yet read: key, element type, element count."""

    __slots__ = ("key", "dtype", "numel")

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class _Record:
    """A tensor record: a strided view of a storage, not yet read."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def extent(self):
        """One past the last storage element the view touches (0 when it is empty)."""
        if 0 in self.size:
            return 0
        return self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1

    def describe(self):
        return f"offset {self.offset}, size {self.size}, stride {self.stride}"


class _PickleBytes:
    """data.pkl for the unpickler: refuses reads past its end instead of returning less."""

    def __init__(self, data, path):
        self._file = io.BytesIO(data)
        self._size = len(data)
        self._path = path

    def read(self, n=-1):
        left = self._size - self._file.tell()
        if n is not None and n > left:
            raise CheckpointError(
                f"{self._path} is truncated or corrupt: its pickle declares a length of {n} "
                f"bytes where only {left} remain.")
        return self._file.read(n)

    def readline(self):
        return self._file.readline()


class _RestrictedUnpickler(pickle._Unpickler):
    """Unpickles a torch state dict into `_Record`s; refuses every other global and opcode.

    The pure-Python unpickler, so that each opcode can be vetted: instantiation opcodes are
    refused, and BUILD (which sets attributes or calls `__setstate__`) only accepts the one
    thing a state dict uses it for, the `_metadata` of an `OrderedDict`.
    """

    def __init__(self, data, path):
        super().__init__(_PickleBytes(data, path))
        self._path = path
        self._storages = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in _REBUILDERS:
            return getattr(self, name)
        if module == "torch" and name in TORCH_STORAGES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"Refusing to load {self._path}: its pickle asks for {module}.{name}, which is "
            f"not a tensor. Only torch state dicts are read (allowed: "
            f"collections.OrderedDict, torch._utils.{{{', '.join(_REBUILDERS)}}}, "
            f"torch.*Storage). Nothing from the file was executed.")

    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage"
                and type(pid[1]) is _StorageType and type(pid[2]) is str
                and _is_count(pid[4])):
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: unexpected persistent id {pid!r}.")
        _, storage_type, key, _location, numel = pid
        dtype = _numpy_dtype(TORCH_STORAGES[storage_type.name])
        storage = self._storages.setdefault(key, _Storage(key, dtype, numel))
        if (storage.dtype, storage.numel) != (dtype, numel):
            raise CheckpointError(
                f"{self._path} is corrupt: storage {key!r} is declared both as {numel} "
                f"{dtype} and as {storage.numel} {storage.dtype}.")
        return storage

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad=False,
                           backward_hooks=None, metadata=None):
        if not (type(storage) is _Storage and _is_count(storage_offset)
                and type(size) is tuple and type(stride) is tuple
                and len(size) == len(stride) and all(map(_is_count, size + stride))):
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: malformed tensor record (storage "
                f"{type(storage).__name__}, offset {storage_offset!r}, size {size!r}, stride "
                f"{stride!r}); a record names a storage and non-negative integer offset, "
                f"sizes and strides.")
        return _Record(storage, storage_offset, size, stride)

    def _rebuild_parameter(self, data, requires_grad=False, backward_hooks=None):
        if type(data) is not _Record:
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: a parameter record wraps "
                f"{type(data).__name__}, not a tensor.")
        return data

    def _load_build(self):
        state = self.stack.pop()
        target = self.stack[-1]
        if not (type(target) is collections.OrderedDict and type(state) is dict
                and set(state) <= {"_metadata"}):
            raise UnsafeCheckpointError(
                f"Refusing to load {self._path}: its pickle sets the state of a "
                f"{type(target).__name__} (BUILD opcode); a state dict only sets the "
                f"`_metadata` of an OrderedDict. Nothing from the file was executed.")
        # The metadata (module versions) is not needed: dropped, not set.

    def _refuse(self, opcode):
        raise UnsafeCheckpointError(
            f"Refusing to load {self._path}: its pickle uses the {opcode} opcode, which a "
            f"state dict never uses (it creates objects, looks up the copyreg registry or "
            f"builds sets or buffers). Nothing from the file was executed.")


def _refuser(opcode):
    return lambda self: self._refuse(opcode)


_RestrictedUnpickler.dispatch = dict(pickle._Unpickler.dispatch)
_RestrictedUnpickler.dispatch[pickle.BUILD[0]] = _RestrictedUnpickler._load_build
for _opcode in _REFUSED_OPCODES:
    _RestrictedUnpickler.dispatch[getattr(pickle, _opcode)[0]] = _refuser(_opcode)


# === The zip ===

def _open_archive(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if zipfile.is_zipfile(path):
            return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        raise CheckpointError(
            f"{path} is truncated or corrupt ({type(e).__name__}: {e}); download it "
            f"again.") from e
    if head.startswith(b"PK"):
        raise CheckpointError(
            f"{path} is truncated or corrupt: it starts as a zip archive (torch >= 1.6 "
            f"format) but its zip directory cannot be read; download it again.")
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"{path} is a legacy (torch < 1.6) checkpoint, which is not read; convert it to "
            f"model.safetensors (or re-save it with torch >= 1.6).")
    raise CheckpointError(
        f"{path} is not a torch checkpoint (neither a torch zip archive nor a torch < 1.6 pickle; "
        f"first bytes {head!r}).")


def _read_entry(archive, info, size, path):
    """The first `size` bytes of a zip entry; inflates no more than that."""
    try:
        with archive.open(info) as f:
            data = f.read(size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError) as e:
        raise CheckpointError(
            f"{path} is truncated or corrupt: reading {info.filename} failed "
            f"({type(e).__name__}: {e}).") from e
    if len(data) != size:
        raise CheckpointError(
            f"{path} is truncated or corrupt: {info.filename} holds {len(data)} bytes, "
            f"{size} were expected.")
    return data


def _entry(archive, name, path, what):
    try:
        return archive.getinfo(name)
    except KeyError:
        raise CheckpointError(f"{path} is corrupt: it has no {what} entry {name!r}.") from None


def _read_pickle(archive, path):
    names = archive.namelist()
    pickles = [n for n in names if n == "data.pkl" or (
        n.endswith("/data.pkl") and n.count("/") == 1)]
    if len(pickles) != 1:
        raise CheckpointError(f"{path}: expected one data.pkl in the archive, found {pickles}.")
    prefix = pickles[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in names:
        info = archive.getinfo(f"{prefix}byteorder")
        if info.file_size > 16:  # torch writes "little" or "big"
            raise CheckpointError(
                f"{path} is corrupt or inconsistent: its zip directory declares "
                f"{info.file_size} bytes for {info.filename}, which holds 'little' or 'big'; "
                f"download it again.")
        order = _read_entry(archive, info, info.file_size, path).strip()
        if order == b"big":
            raise CheckpointError(f"{path}: big-endian checkpoints are not supported.")
        if order != b"little":
            raise CheckpointError(
                f"{path} is corrupt: {info.filename} holds {order[:16]!r}, not 'little' or "
                f"'big'; download it again.")
    info = archive.getinfo(pickles[0])
    limit = MAX_PICKLE_BYTES
    if info.compress_type != zipfile.ZIP_STORED:
        limit = min(limit, info.compress_size * MAX_PICKLE_RATIO + PICKLE_SLACK)
    if info.file_size > limit:
        raise CheckpointError(
            f"Refusing to load {path}: its data.pkl declares {info.file_size} bytes "
            f"({info.compress_size} stored), over the limit of {limit} (a state dict's pickle "
            f"is tens of kilobytes).")
    return prefix, _read_entry(archive, info, info.file_size, path)


def _state_records(state, path):
    """The unpickled object as {name: _Record}, or a CheckpointError saying why not."""
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path} does not hold a dict of tensors (a state dict) but a "
            f"{type(state).__name__}.")
    for name, value in state.items():
        if type(name) is not str:
            raise CheckpointError(
                f"{path}: a state dict key is a {type(name).__name__} ({name!r}), not a "
                f"weight name.")
        if type(value) is not _Record:
            raise CheckpointError(
                f"{path}: {name!r} is a {type(value).__name__}, not a tensor; only a flat "
                f"dict of tensors (a state dict) is read.")
    return dict(state)


def _check_record(name, record, path):
    storage = record.storage
    if 0 in record.size:
        return
    last = record.extent() - 1
    if last >= storage.numel:
        raise UnsafeCheckpointError(
            f"Refusing to load {path}: tensor {name!r} ({record.describe()}) reaches element "
            f"{last} of storage {storage.key!r}, which holds {storage.numel}.")
    if math.prod(record.size) > storage.numel:
        raise UnsafeCheckpointError(
            f"Refusing to load {path}: tensor {name!r} ({record.describe()}) has "
            f"{math.prod(record.size)} elements, more than its storage {storage.key!r} holds "
            f"({storage.numel}); overlapping views are not read.")


def _read_storages(archive, prefix, records, path):
    """Each storage entry inflated once, only as far as its records reach."""
    needed = {}
    for record in records.values():
        key = record.storage.key
        needed[key] = max(needed.get(key, 0), record.extent())
    storages = {r.storage.key: r.storage for r in records.values()}
    infos = {}
    total = 0
    for key, count in needed.items():
        if not count:
            continue
        info = _entry(archive, f"{prefix}data/{key}", path, "storage")
        storage = storages[key]
        if info.file_size < storage.numel * storage.dtype.itemsize:
            raise UnsafeCheckpointError(
                f"Refusing to load {path}: storage {key!r} holds {info.file_size} bytes, "
                f"fewer than {storage.numel} x {storage.dtype.itemsize} (its declared size).")
        size = count * storage.dtype.itemsize
        infos[key] = (info, size)
        total += size
    limit = MAX_INFLATION * os.path.getsize(path) + INFLATION_SLACK
    if total > limit:
        raise CheckpointError(
            f"Refusing to load {path}: its tensors need {total} bytes of storage, more than "
            f"the limit of {limit} for a file of {os.path.getsize(path)} bytes "
            f"({MAX_INFLATION}x its size + {INFLATION_SLACK >> 20} MiB; a zip bomb?).")
    return {key: np.frombuffer(_read_entry(archive, info, size, path),
                               dtype=storages[key].dtype)
            for key, (info, size) in infos.items()}


def _view(record, buffers):
    """The record as a read-only numpy view of its (bounds-checked) storage buffer."""
    dtype = record.storage.dtype
    if 0 in record.size:
        return np.zeros(record.size, dtype)
    buffer = buffers[record.storage.key]
    # A size-1 axis never moves: stride 0 keeps a huge declared stride from overflowing.
    strides = tuple(s * dtype.itemsize if n > 1 else 0
                    for n, s in zip(record.size, record.stride))
    return np.lib.stride_tricks.as_strided(
        buffer[record.offset:], shape=record.size, strides=strides, writeable=False)


def read_torch_bin(path):
    """Read a `pytorch_model.bin` (torch zip format) as numpy arrays, without torch.

    The pickle inside is run by an interpreter that resolves only what a state
    dict needs (`collections.OrderedDict`, torch's tensor-rebuild functions,
    storage types and storage references) and refuses any other global and
    every opcode that creates objects or sets their state, before anything is
    called. Every tensor record is checked against its storage before the
    storage is read; each storage is inflated once, only as far as its
    records reach, within the limits of docs/security.md.

    Args:
        path: path of the `.bin` file.

    Returns:
        dict mapping weight name to a read-only `np.ndarray` (tensors sharing
        a storage in the file share memory).

    Raises:
        UnsafeCheckpointError: the pickle names anything but tensors, or a
            tensor record reaches outside its storage.
        CheckpointError: the file is truncated or corrupt, is not a torch zip
            checkpoint (e.g. the legacy pre-1.6 format), holds something other
            than a flat dict of tensors, or is over the memory limits.

    Example:

    >>> import os, tempfile, zipfile
    >>> path = os.path.join(tempfile.mkdtemp(), "empty.bin")
    >>> with zipfile.ZipFile(path, "w") as archive:
    ...     archive.writestr("archive/data.pkl", b"\\x80\\x02}q\\x00.")
    >>> read_torch_bin(path)
    {}
    """
    path = os.fspath(path)
    with _open_archive(path) as archive:
        prefix, data = _read_pickle(archive, path)
        try:
            state = _RestrictedUnpickler(data, path).load()
        except CheckpointError:
            raise
        except Exception as e:  # anything a corrupt pickle makes the interpreter raise
            raise CheckpointError(
                f"{path} is truncated or corrupt: its data.pkl is not a readable pickle "
                f"({type(e).__name__}: {e}).") from e
        records = _state_records(state, path)
        for name, record in records.items():
            _check_record(name, record, path)
        buffers = _read_storages(archive, prefix, records, path)
    return {name: _view(record, buffers) for name, record in records.items()}
