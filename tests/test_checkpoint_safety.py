"""Hostile checkpoints: every crafted file is built here, in the test, and refused with a
`CheckpointError` (or read correctly) without reading outside a buffer, running code,
mutating the reader or costing memory out of proportion to the file (docs/security.md)."""

import json
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from bertcls.models.errors import CheckpointError, UnsafeCheckpointError
from bertcls.models.torch_bin import read_torch_bin

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KLUE_BIN = os.path.join(REPO, "tests", "golden", "klue_tiny", "bin", "pytorch_model.bin")


# === A tiny pickle assembler: protocol-2 opcodes written by hand, as an attacker would ===

class Storage:
    def __init__(self, key="0", numel=4, kind="FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


class Raw:
    """Opcodes inserted as they are."""

    def __init__(self, data):
        self.data = data


def global_(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def encode(obj):
    if isinstance(obj, Raw):
        return obj.data
    if obj is None:
        return b"N"
    if isinstance(obj, bool):
        return b"\x88" if obj else b"\x89"
    if isinstance(obj, int):
        if -2**31 <= obj < 2**31:
            return b"J" + struct.pack("<i", obj)
        data = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(data)]) + data
    if isinstance(obj, str):
        data = obj.encode("utf-8")
        return b"X" + struct.pack("<I", len(data)) + data
    if isinstance(obj, tuple):
        return b"(" + b"".join(encode(x) for x in obj) + b"t"
    if isinstance(obj, dict):
        return b"}(" + b"".join(encode(k) + encode(v) for k, v in obj.items()) + b"u"
    if isinstance(obj, Storage):
        return (b"(" + encode("storage") + global_("torch", obj.kind) + encode(obj.key)
                + encode("cpu") + encode(obj.numel) + b"tQ")
    if isinstance(obj, Tensor):
        return (global_("torch._utils", "_rebuild_tensor_v2")
                + encode((obj.storage, obj.offset, obj.size, obj.stride, False, None)) + b"R")
    raise TypeError(type(obj))


def dumps(obj):
    return b"\x80\x02" + encode(obj) + b"."


def write_bin(path, payload, storages=None, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return str(path)


FLOATS = {"0": np.arange(12, dtype="<f4").tobytes()}


def test_assembled_pickle_reads_like_torch(tmp_path):
    # The assembler is right: plain, offset, transposed (2-D) and empty views read as numpy does.
    s = Storage(numel=12)
    path = write_bin(tmp_path / "ok.bin", dumps({
        "plain": Tensor(s, 0, (12,), (1,)), "offset": Tensor(s, 5, (3,), (2,)),
        "transposed": Tensor(s, 0, (3, 4), (1, 3)), "empty": Tensor(s, 0, (0, 5), (5, 1)),
        "scalar": Tensor(s, 7, (), ()), "tall": Tensor(s, 11, (1, 1), (2**70, 2**65))}),
        FLOATS)
    got = read_torch_bin(path)
    values = np.arange(12, dtype="float32")
    np.testing.assert_array_equal(got["plain"], values)
    np.testing.assert_array_equal(got["offset"], [5, 7, 9])
    np.testing.assert_array_equal(got["transposed"], values.reshape(4, 3).T)
    assert got["empty"].shape == (0, 5) and got["scalar"] == 7
    np.testing.assert_array_equal(got["tall"], [[11]])
    assert not got["plain"].flags.writeable
    assert np.shares_memory(got["plain"], got["transposed"])  # one storage, inflated once


# === Tensor records never reach outside their storage ===

OUT_OF_BOUNDS = {
    # name: (offset, size, stride), storage of 12 floats
    "offset_past_end": (12, (1,), (1,)),
    "offset_plus_length": (10, (3,), (1,)),
    "huge_stride_2d": (0, (2, 2), (2**40, 1)),
    "huge_stride_rank3": (0, (2, 1, 2), (1, 1, 2**62)),
    "last_axis_one_past": (0, (3, 4), (4, 1 + 1)),
    "overlapping_expand": (0, (1000, 12), (0, 1)),
    "stride_zero_broadcast": (0, (2**40,), (0,)),
}


@pytest.mark.parametrize("name", sorted(OUT_OF_BOUNDS))
def test_records_reaching_outside_their_storage_are_refused(tmp_path, name):
    offset, size, stride = OUT_OF_BOUNDS[name]
    path = write_bin(tmp_path / f"{name}.bin",
                     dumps({"w": Tensor(Storage(numel=12), offset, size, stride)}), FLOATS)
    with pytest.raises(UnsafeCheckpointError, match=r"tensor 'w'.*storage '0'"):
        read_torch_bin(path)


MALFORMED = {
    "negative_offset": Tensor(Storage(numel=12), -1, (2,), (1,)),
    "negative_stride": Tensor(Storage(numel=12), 11, (2,), (-1,)),
    "bool_size": Tensor(Storage(numel=12), 0, (True,), (1,)),
    "list_size": Raw(global_("torch._utils", "_rebuild_tensor_v2")
                     + b"(" + encode(Storage(numel=12)) + encode(0) + b"]" + encode(1)
                     + b"a" + encode((1,)) + b"tR"),
    "rank_mismatch": Tensor(Storage(numel=12), 0, (2, 2), (1,)),
    # A view of a view: a tensor passed where a storage belongs (the old reader sliced the
    # first tensor's rows and could read past it, a "2-D storage slice").
    "view_of_view": Tensor(Raw(encode(Tensor(Storage(numel=12), 0, (3, 4), (4, 1)))), 2,
                           (12,), (1,)),
    "storage_is_a_string": Tensor(Raw(encode("0")), 0, (1,), (1,)),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_records_are_refused(tmp_path, name):
    path = write_bin(tmp_path / f"{name}.bin", dumps({"w": MALFORMED[name]}), FLOATS)
    with pytest.raises(UnsafeCheckpointError, match="malformed tensor record"):
        read_torch_bin(path)


def test_storage_smaller_than_declared_or_missing(tmp_path):
    path = write_bin(tmp_path / "short.bin",
                     dumps({"w": Tensor(Storage(numel=200), 0, (2,), (1,))}), FLOATS)
    with pytest.raises(UnsafeCheckpointError, match="fewer than 200 x 4"):
        read_torch_bin(path)
    path = write_bin(tmp_path / "missing.bin",
                     dumps({"w": Tensor(Storage(key="9"), 0, (2,), (1,))}), FLOATS)
    with pytest.raises(CheckpointError, match="no storage entry 'archive/data/9'"):
        read_torch_bin(path)
    path = write_bin(tmp_path / "two_sizes.bin", dumps({
        "a": Tensor(Storage(numel=12), 0, (2,), (1,)),
        "b": Tensor(Storage(numel=4), 0, (2,), (1,))}), FLOATS)
    with pytest.raises(CheckpointError, match="declared both"):
        read_torch_bin(path)


SEGFAULT_SCRIPT = r"""
import importlib, sys, types
repo, paths = sys.argv[1], sys.argv[2:]
# Import the reader without the package's TensorFlow-heavy public face.
for name in ("bertcls", "bertcls.models"):
    module = types.ModuleType(name)
    module.__path__ = [repo + "/" + name.replace(".", "/")]
    sys.modules[name] = module
torch_bin = importlib.import_module("bertcls.models.torch_bin")
for path in paths:
    try:
        torch_bin.read_torch_bin(path)
        print("READ", path)
    except torch_bin.UnsafeCheckpointError as e:
        print("REFUSED", path)
"""


def test_large_out_of_bounds_records_fail_cleanly_in_a_subprocess(tmp_path):
    # These used to be read with as_strided past the buffer: SIGSEGV for the large ones, heap
    # bytes in the weights for the small. A regression must fail this test, not kill pytest.
    records = {
        "far": Tensor(Storage(numel=12), 0, (2**20,), (2**20,)),
        "far_2d": Tensor(Storage(numel=12), 0, (4096, 4096), (2**24, 1)),
        "view_of_view": Tensor(Raw(encode(Tensor(Storage(numel=12), 0, (3, 4), (4, 1)))), 1,
                               (2**20,), (1,)),
        "heap_bytes": Tensor(Storage(numel=12), 8, (64,), (1,)),
    }
    paths = [write_bin(tmp_path / f"{name}.bin", dumps({"w": record}), FLOATS)
             for name, record in records.items()]
    proc = subprocess.run([sys.executable, "-c", SEGFAULT_SCRIPT, REPO, *paths],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.split().count("REFUSED") == len(paths), proc.stdout


# === The unpickler: no opcode can create objects or mutate what it resolves ===

ORDERED_DICT = global_("collections", "OrderedDict")
REBUILD = global_("torch._utils", "_rebuild_tensor_v2")
HOSTILE_PICKLES = {
    # BUILD with slot state is setattr: on a resolved global it would outlive this load.
    "build_on_rebuild_function": REBUILD + encode((None, {"__defaults__": (True,)})) + b"b",
    "build_on_ordered_dict_class": ORDERED_DICT + encode((None, {"x": 1})) + b"b",
    "build_dict_on_rebuild": REBUILD + encode({"__kwdefaults__": None}) + b"b",
    "build_other_state_on_instance": ORDERED_DICT + b")R" + encode({"items": 1}) + b"b",
    "newobj": ORDERED_DICT + b")\x81",
    "obj": b"(" + ORDERED_DICT + b"o",
    "inst": b"(icollections\nOrderedDict\n",
    "ext1": b"\x82\x01",
    "empty_set": b"\x8f",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PICKLES))
def test_opcodes_that_create_or_mutate_objects_are_refused(tmp_path, name):
    path = write_bin(tmp_path / f"{name}.bin", b"\x80\x02" + HOSTILE_PICKLES[name] + b".")
    with pytest.raises(UnsafeCheckpointError, match="Nothing from the file was executed"):
        read_torch_bin(path)
    # The next valid load works and reads the same values as before.
    got = read_torch_bin(KLUE_BIN)
    assert got["bert.embeddings.word_embeddings.weight"].shape == (32000, 32)


def test_state_dict_metadata_build_is_accepted(tmp_path):
    # torch pickles `OrderedDict` state dicts with their `_metadata` set by BUILD.
    payload = (b"\x80\x02" + ORDERED_DICT + b")R" + encode("w") + encode(
        Tensor(Storage(numel=12), 0, (2,), (1,))) + b"s"
        + encode({"_metadata": {"": {"version": 1}}}) + b"b.")
    np.testing.assert_array_equal(read_torch_bin(write_bin(tmp_path / "m.bin", payload, FLOATS))
                                  ["w"], [0, 1])


@pytest.mark.parametrize("payload, message", [
    (encode({1: Tensor(Storage(numel=12), 0, (1,), (1,))}), "key is a int"),
    (encode({"w": 3}), "'w' is a int, not a tensor"),
    (encode({"w": {"nested": Tensor(Storage(numel=12), 0, (1,), (1,))}}), "'w' is a dict"),
    (b"]", "does not hold a dict of tensors"),
    (b"X\xff\xff\xff\x7f", "declares a length of 2147483647 bytes"),
    (b"\x8e" + struct.pack("<Q", 2**60), "declares a length of"),  # BINBYTES8
    (b"J\x00", "truncated or corrupt"),
    (b"h\x05", "truncated or corrupt"),  # a memo entry that does not exist
])
def test_corrupt_pickles_are_checkpoint_errors(tmp_path, payload, message):
    path = write_bin(tmp_path / "bad.bin", b"\x80\x02" + payload + b".", FLOATS)
    with pytest.raises(CheckpointError, match=message) as info:
        read_torch_bin(path)
    assert str(path) in str(info.value)


# === Memory: zip bombs and shared storages ===

def deflate_bomb(path, entries, pickle_bytes):
    """A .bin whose storage '0' is `entries` x 16 MiB of zeros, really deflated (~16 KB per
    16 MiB: full-flushed blocks of zeros compress identically, so one is repeated)."""
    chunk = b"\0" * (16 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = block * entries + compressor.flush()
    crc = 0
    for _ in range(entries):
        crc = zlib.crc32(chunk, crc)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        # Written by hand: the local header, then the prepared stream.
        info.file_size, info.compress_size, info.CRC = entries * len(chunk), len(stream), crc
        info.header_offset = archive.start_dir
        archive.fp.seek(archive.start_dir)
        archive.fp.write(info.FileHeader(zip64=False))
        archive.fp.write(stream)
        archive.start_dir = archive.fp.tell()
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info
    return str(path)


def peak_memory(function):
    tracemalloc.start()
    try:
        result = function()
    except CheckpointError as e:
        result = e
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    numel = 2**28  # 1 GiB of float32 zeros in a file of ~1 MB
    record = Tensor(Storage(numel=numel), 0, (numel,), (1,))
    path = deflate_bomb(tmp_path / "bomb.bin", 64, dumps({"w": record}))
    assert os.path.getsize(path) < 2 << 20
    with zipfile.ZipFile(path) as archive:  # a real bomb: zipfile inflates it without error
        with archive.open("archive/data/0") as f:
            assert f.read(1 << 20) == b"\0" * (1 << 20)
    result, peak = peak_memory(lambda: read_torch_bin(path))
    assert isinstance(result, CheckpointError) and "zip bomb" in str(result)
    assert peak < 32 << 20, peak
    # Within the limit, only the bytes the records reach are inflated.
    small = Tensor(Storage(numel=numel), 0, (1000,), (1,))
    path = deflate_bomb(tmp_path / "small.bin", 64, dumps({"w": small}))
    result, peak = peak_memory(lambda: read_torch_bin(path))
    assert result["w"].shape == (1000,) and not result["w"].any()
    assert peak < 32 << 20, peak


def test_pickle_bomb_is_refused(tmp_path):
    path = tmp_path / "pickle_bomb.bin"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + b"}" * (64 << 20) + b".")
    assert os.path.getsize(path) < 1 << 20
    result, peak = peak_memory(lambda: read_torch_bin(str(path)))
    assert isinstance(result, CheckpointError) and "data.pkl declares" in str(result)
    assert peak < 8 << 20, peak


def test_one_storage_referenced_256_times_is_inflated_once(tmp_path):
    numel = 1 << 20  # 4 MiB
    storage = Storage(numel=numel)
    records = {f"w{i}": Tensor(storage, 0, (numel,), (1,)) for i in range(256)}
    path = write_bin(tmp_path / "shared.bin", dumps(records),
                     {"0": np.ones(numel, "<f4").tobytes()})
    result, peak = peak_memory(lambda: read_torch_bin(path))
    assert len(result) == 256 and all(np.shares_memory(result["w0"], v) for v in result.values())
    assert peak < 16 << 20, peak  # the 4 MiB storage, once (256 copies would be 1 GiB)


# === Files that are not (whole) torch zips ===

def test_truncated_and_corrupt_files_say_so(tmp_path):
    data = open(KLUE_BIN, "rb").read()
    for name, content, message in [
            ("truncated.bin", data[: len(data) // 2], "truncated or corrupt"),
            ("tail_cut.bin", data[:-10], "truncated or corrupt"),
            ("empty.bin", b"", "not a torch checkpoint"),
            ("text.bin", b"hello", "not a torch checkpoint"),
            ("legacy.bin", b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.", "legacy")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=message) as info:
            read_torch_bin(str(tmp_path / name))
        assert "legacy" not in str(info.value) or name == "legacy.bin"
    # A deflated storage whose compressed bytes are damaged.
    path = write_bin(tmp_path / "damaged.bin",
                     dumps({"w": Tensor(Storage(numel=1 << 16), 0, (1 << 16,), (1,))}),
                     {"0": np.arange(1 << 16, dtype="<f4").tobytes()},
                     compress=zipfile.ZIP_DEFLATED)
    raw = bytearray(open(path, "rb").read())
    start = raw.index(b"archive/data/0") + len("archive/data/0")
    raw[start + 100:start + 400] = b"\xff" * 300
    open(path, "wb").write(bytes(raw))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_torch_bin(path)


def test_big_endian_and_missing_pickle(tmp_path):
    path = tmp_path / "big.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", dumps({}))
        archive.writestr("archive/byteorder", "big")
    with pytest.raises(CheckpointError, match="big-endian"):
        read_torch_bin(str(path))
    # Not big-endian: a byteorder entry whose size is absurd, or that holds something else.
    for order in ("little" * 20, "middle"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", dumps({}))
            archive.writestr("archive/byteorder", order)
        with pytest.raises(CheckpointError, match="is corrupt") as info:
            read_torch_bin(str(path))
        assert "big-endian" not in str(info.value)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/other", "x")
    with pytest.raises(CheckpointError, match="one data.pkl"):
        read_torch_bin(str(path))


# === Checkpoint directories: shard indexes, files, weights against the config ===

TINY = dict(vocabulary_size=23, num_layers=1, num_heads=2, hidden_size=8, intermediate_size=16,
            max_sequence_length=16)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from bertcls import BertBackbone

    directory = tmp_path_factory.mktemp("tiny")
    BertBackbone(**TINY).save_pretrained(str(directory))
    return directory


def copy_checkpoint(source, target, weights=True):
    import shutil

    target.mkdir(exist_ok=True)
    shutil.copy(source / "config.json", target / "config.json")
    if weights:
        shutil.copy(source / "model.safetensors", target / "model.safetensors")
    return target


def tiny_state(tiny_checkpoint):
    from bertcls.models.checkpoints import read_safetensors

    return read_safetensors(str(tiny_checkpoint / "model.safetensors"))


def write_sharded(directory, state, shard_names):
    """Two safetensors shards and an index naming them `shard_names`."""
    from safetensors.numpy import save_file

    names = sorted(state)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for shard, keys in zip(shard_names, halves):
        weight_map.update({k: shard for k in keys})
    for stored, keys in zip(("model-00001-of-00002.safetensors",
                             "model-00002-of-00002.safetensors"), halves):
        save_file({k: state[k] for k in keys}, str(directory / stored))
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}))


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd",
                                   "sub/../../model.safetensors", "..\\outside.safetensors",
                                   "escape.safetensors"])
def test_shard_names_are_confined_to_the_checkpoint_directory(tmp_path, tiny_checkpoint,
                                                              shard):
    from bertcls import BertBackbone
    from safetensors.numpy import save_file

    outside = tmp_path / "outside.safetensors"
    state = tiny_state(tiny_checkpoint)
    save_file(state, str(outside))
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt", weights=False)
    os.symlink(outside, directory / "escape.safetensors")
    write_sharded(directory, state, ["model-00001-of-00002.safetensors", shard])
    with pytest.raises(CheckpointError, match="model.safetensors.index.json names the shard"):
        BertBackbone.from_preset(str(directory))


def test_huggingface_cache_links_into_blobs_are_read(tmp_path, tiny_checkpoint):
    # huggingface_hub snapshots hold symlinks into ../../blobs: those are not escapes.
    from bertcls import BertBackbone

    snapshot = tmp_path / "models--x--y" / "snapshots" / "abc123"
    blobs = tmp_path / "models--x--y" / "blobs"
    build = copy_checkpoint(tiny_checkpoint, tmp_path / "build", weights=False)
    write_sharded(build, tiny_state(tiny_checkpoint),
                  ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for i, file in enumerate(sorted(build.iterdir())):
        os.rename(file, blobs / f"blob{i}")
        os.symlink(os.path.join("..", "..", "blobs", f"blob{i}"), snapshot / file.name)
    backbone = BertBackbone.from_preset(str(snapshot))
    assert backbone.vocabulary_size == TINY["vocabulary_size"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "Cannot read shard index"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"metadata": {}}', "has no 'weight_map'"),
    ('{"weight_map": ["a"]}', "has no 'weight_map' object"),
    ('{"weight_map": {"a": 3}}', r"weight_map\['a'\] must be a shard file name"),
    ('{"weight_map": {"a": "model.safetensors"}}', "model.safetensors does not exist"),
])
def test_broken_shard_indexes(tmp_path, tiny_checkpoint, content, message):
    from bertcls import BertBackbone

    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt", weights=False)
    (directory / "model.safetensors.index.json").write_text(content)
    with pytest.raises(CheckpointError, match=message) as info:
        BertBackbone.from_preset(str(directory))
    assert "model.safetensors" in str(info.value)


def test_corrupt_safetensors_and_special_files(tmp_path, tiny_checkpoint):
    from bertcls import BertBackbone

    data = (tiny_checkpoint / "model.safetensors").read_bytes()
    for name, content in [("truncated", data[: len(data) // 2]), ("garbage", b"\x00" * 64),
                          ("huge_header", struct.pack("<Q", 2**60) + b"{}")]:
        directory = copy_checkpoint(tiny_checkpoint, tmp_path / name, weights=False)
        (directory / "model.safetensors").write_bytes(content)
        with pytest.raises(CheckpointError, match="model.safetensors: it is not a valid"):
            BertBackbone.from_preset(str(directory))
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "fifo", weights=False)
    os.mkfifo(directory / "model.safetensors")  # reading it would block forever
    with pytest.raises(CheckpointError, match="not a regular file"):
        BertBackbone.from_preset(str(directory))


def save_state(directory, state):
    from safetensors.numpy import save_file

    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})


def test_integer_weights_for_float_parameters_are_refused(tmp_path, tiny_checkpoint):
    from bertcls import BertBackbone

    state = tiny_state(tiny_checkpoint)
    state["embeddings.word_embeddings.weight"] = np.ones((23, 8), "int32")
    state["pooler.dense.bias"] = np.ones(8, "bool")
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ints", weights=False)
    save_state(directory, state)
    with pytest.raises(CheckpointError, match=r"Non-float weights.*"
                       r"embeddings.word_embeddings.weight: int32.*pooler.dense.bias: bool"):
        BertBackbone.from_preset(str(directory))


def test_non_finite_weights_warn_by_name_or_fail_when_strict(tmp_path, tiny_checkpoint,
                                                             caplog):
    from bertcls import BertBackbone, BertClassifier

    state = tiny_state(tiny_checkpoint)
    state["encoder.layer.0.output.dense.weight"][0, 0] = np.nan
    state["embeddings.LayerNorm.bias"][3] = np.inf
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "nan", weights=False)
    save_state(directory, state)
    with caplog.at_level("WARNING", logger="bertcls.models.checkpoints"):
        BertBackbone.from_preset(str(directory))
    warned = [r.getMessage() for r in caplog.records if "NaN or infinite" in r.getMessage()]
    assert len(warned) == 1 and "2 tensors" in warned[0]
    assert "encoder.layer.0.output.dense.weight" in warned[0]
    assert "embeddings.LayerNorm.bias" in warned[0] and "strict=True" in warned[0]
    with pytest.raises(CheckpointError, match=r"NaN or infinite values in 2 tensors"):
        BertBackbone.from_preset(str(directory), strict=True)
    (directory / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    with pytest.raises(CheckpointError, match="embeddings.LayerNorm.bias"):
        BertClassifier.from_preset(str(directory), strict=True, max_seq_len=8)


def test_missing_pooler_is_an_error_when_strict(tmp_path, tiny_checkpoint):
    from bertcls import BertBackbone

    state = {k: v for k, v in tiny_state(tiny_checkpoint).items()
             if not k.startswith("pooler.")}
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "nopooler", weights=False)
    save_state(directory, state)
    assert BertBackbone.from_preset(str(directory)).num_layers == 1
    with pytest.raises(CheckpointError, match="no pooler weights"):
        BertBackbone.from_preset(str(directory), strict=True)


@pytest.fixture
def no_allocation(monkeypatch):
    """Fail the test if a BertBackbone is constructed."""
    from bertcls import BertBackbone

    def refuse(self, *args, **kwargs):
        raise AssertionError("the backbone was allocated before the checkpoint was checked")

    monkeypatch.setattr(BertBackbone, "__init__", refuse)


def test_config_far_beyond_its_weights_is_refused_before_allocation(tmp_path, tiny_checkpoint,
                                                                    no_allocation):
    from bertcls import BertBackbone

    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "big")
    config = json.loads((directory / "config.json").read_text())
    config.update(vocab_size=2_000_000_000, hidden_size=4096, num_hidden_layers=96,
                  num_attention_heads=32, intermediate_size=16384)  # ~10 TB of float32
    (directory / "config.json").write_text(json.dumps(config))
    # Refused from the config and the files' size alone, before any shape is listed.
    with pytest.raises(CheckpointError, match=r"big \(config.json\): the weights declare "
                                              r"\d{13,} parameters"):
        BertBackbone.from_preset(str(directory))
    # Sizes within the files' bytes but not the weights': the shapes are compared, still
    # before allocation.
    config.update(vocab_size=24, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=16)
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"Shape mismatches: \['embeddings.word_embeddings"
                                              r".weight: checkpoint \(23, 8\), expected "
                                              r"\(24, 8\)"):
        BertBackbone.from_preset(str(directory))


HOSTILE = {  # family golden checkpoint -> (config keys of its sizes, backbone class name)
    "electra_projected_safetensors": (("vocab_size", "hidden_size", "num_hidden_layers",
                                       "intermediate_size", "embedding_size"),
                                      "ElectraBackbone"),
    "albert_safetensors": (("vocab_size", "hidden_size", "num_hidden_layers",
                            "intermediate_size", "embedding_size"), "AlbertBackbone"),
    "distilbert_safetensors": (("vocab_size", "dim", "n_layers", "hidden_dim"),
                               "DistilBertBackbone"),
}


@pytest.mark.parametrize("variant", sorted(HOSTILE))
def test_hostile_family_configs_are_refused_before_allocation(tmp_path, monkeypatch, variant):
    import bertcls
    from bertcls import backbone_from_preset

    keys, name = HOSTILE[variant]
    cls = getattr(bertcls, name)

    def refuse(self, *args, **kwargs):
        raise AssertionError("the backbone was allocated before the checkpoint was checked")

    source = os.path.join(REPO, "tests", "golden", "families", variant)
    directory = tmp_path / variant
    shutil.copytree(source, directory)
    original = json.loads((directory / "config.json").read_text())
    monkeypatch.setattr(cls, "__init__", refuse)
    for key in keys:  # one size at 2 * 10^9 (a multiple of the heads for the width)
        config = dict(original, **{key: 2 * 10 ** 9})
        (directory / "config.json").write_text(json.dumps(config))
        message = r"\(config.json\): the weights declare \d+ parameters"
        if key == "num_hidden_layers" and name == "AlbertBackbone":  # one shared layer
            message = r"num_hidden_layers=2000000000 is refused: one stored layer"
        with pytest.raises(CheckpointError, match=message):
            backbone_from_preset(str(directory))
    # A config slightly off its weights: every mismatch listed, nothing allocated.
    inner = "hidden_dim" if "dim" in keys else "intermediate_size"
    config = dict(original, **{inner: original[inner] + 2})
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"Shape mismatches: \[.*expected \(34, 16\)"):
        backbone_from_preset(str(directory))
    monkeypatch.undo()
    (directory / "config.json").write_text(json.dumps(original))
    assert type(backbone_from_preset(str(directory))) is cls


def test_tensors_sharing_one_storage_cannot_inflate_the_model(tmp_path, no_allocation):
    # Every weight of a 48-layer config is a view of one 1 MiB storage: shapes and bounds
    # are all valid, but 38 M parameters cannot come from a 1 MB file.
    from bertcls import BertBackbone
    from bertcls.models.checkpoints import bert_hf_shapes

    kwargs = dict(vocabulary_size=64, num_layers=48, num_heads=4, hidden_size=256,
                  intermediate_size=1024, max_sequence_length=64, type_vocab_size=2)
    numel = 256 * 1024
    storage = Storage(numel=numel)
    records = {name: Tensor(storage, 0, shape, tuple(int(np.prod(shape[i + 1:]))
                                                     for i in range(len(shape))))
               for name, shape in bert_hf_shapes(kwargs).items()}
    write_bin(tmp_path / "pytorch_model.bin", dumps(records),
              {"0": np.zeros(numel, "<f4").tobytes()})
    (tmp_path / "config.json").write_text(json.dumps({
        "vocab_size": 64, "num_hidden_layers": 48, "num_attention_heads": 4,
        "hidden_size": 256, "intermediate_size": 1024, "max_position_embeddings": 64}))
    assert len(read_torch_bin(str(tmp_path / "pytorch_model.bin"))) == len(records)
    with pytest.raises(CheckpointError, match="share storage or the config is larger"):
        BertBackbone.from_preset(str(tmp_path))


def test_expected_shapes_match_the_built_backbone():
    from bertcls import (AlbertBackbone, BertBackbone, DistilBertBackbone, ElectraBackbone,
                         RobertaBackbone, XLMRobertaBackbone)

    kwargs = dict(TINY, num_layers=2, type_vocab_size=3)
    for cls in (BertBackbone, RobertaBackbone, XLMRobertaBackbone):
        shapes = {name: w.hf_shape() for name, w in cls(**kwargs).hf_weight_map().items()}
        assert cls.hf_shapes(kwargs) == shapes, cls.__name__
    # The families sized from the config alone since the ELECTRA/ALBERT/DistilBERT check.
    base = {k: v for k, v in kwargs.items() if k != "type_vocab_size"}
    for cls, extra in ((ElectraBackbone, {"embedding_size": 4, "type_vocab_size": 3}),
                       (ElectraBackbone, {}), (AlbertBackbone, {"embedding_size": 4}),
                       (DistilBertBackbone, {}),
                       (DistilBertBackbone, {"sinusoidal_positions": True})):
        backbone = cls(**base, **extra)
        shapes = {name: w.hf_shape() for name, w in backbone.hf_weight_map().items()}
        assert cls.hf_shapes(backbone.get_config()) == shapes, (cls.__name__, extra)
