"""Peak memory of `read_torch_bin` on hostile files (the figures in docs/security.md).

Builds each file in a temporary directory, reads it with tracemalloc on (numpy's buffers
are traced) and prints the file size, the outcome and the peak of traced memory. Imports
only the reader (no TensorFlow), so it runs in seconds:

    python benchmarks/checkpoint_memory.py
"""

import importlib
import os
import pathlib
import struct
import sys
import tempfile
import tracemalloc
import types
import zipfile
import zlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
for _name in ("bertcls", "bertcls.models"):  # the reader alone, without the public face
    _module = types.ModuleType(_name)
    _module.__path__ = [str(REPO / _name.replace(".", "/"))]
    sys.modules.setdefault(_name, _module)
torch_bin = importlib.import_module("bertcls.models.torch_bin")
MiB = 2**20


def record(key, numel, size):
    """Protocol-2 opcodes of _rebuild_tensor_v2(FloatStorage key, 0, (size,), (1,))."""
    def text(s):
        return b"X" + struct.pack("<I", len(s)) + s.encode()

    return (b"ctorch._utils\n_rebuild_tensor_v2\n((" + text("storage")
            + b"ctorch\nFloatStorage\n" + text(key) + text("cpu") + b"J"
            + struct.pack("<i", numel) + b"tQJ\x00\x00\x00\x00(J" + struct.pack("<i", size)
            + b"t(J\x01\x00\x00\x00t\x89NtR")


def state_dict(records):
    body = b"".join(b"X" + struct.pack("<I", len(n)) + n.encode() + r for n, r in records)
    return b"\x80\x02}(" + body + b"u."


def zip_bomb(path, chunks=64):
    """Storage '0': chunks x 16 MiB of zeros, deflated by hand (~16 KB per 16 MiB)."""
    chunk = b"\0" * (16 * MiB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = block * chunks + compressor.flush()
    crc = 0
    for _ in range(chunks):
        crc = zlib.crc32(chunk, crc)
    numel = chunks * len(chunk) // 4
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", state_dict([("w", record("0", numel, numel))]))
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size, info.compress_size, info.CRC = chunks * len(chunk), len(stream), crc
        info.header_offset = archive.start_dir
        archive.fp.seek(archive.start_dir)
        archive.fp.write(info.FileHeader(zip64=False))
        archive.fp.write(stream)
        archive.start_dir = archive.fp.tell()
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info


def shared_storage(path, references=256, numel=MiB):
    records = [(f"w{i}", record("0", numel, numel)) for i in range(references)]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", state_dict(records))
        archive.writestr("archive/data/0", np.ones(numel, "<f4").tobytes())


def pickle_flood(path, opcode, prefix=b""):
    """The largest data.pkl allowed, stored, made of one opcode repeated."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + prefix + opcode * (
            torch_bin.MAX_PICKLE_BYTES - 3 - len(prefix)) + b".")


def measure(path):
    tracemalloc.start()
    try:
        tensors = torch_bin.read_torch_bin(path)
        outcome = f"read {len(tensors)} tensors"
    except torch_bin.CheckpointError as e:
        outcome = f"refused: {str(e).split(': ', 1)[-1][:70]}"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, peak


def main():
    directory = pathlib.Path(tempfile.mkdtemp())
    cases = {
        "zip bomb, 1 GiB of storage": lambda p: zip_bomb(p),
        "one 4 MiB storage referenced 256 times": lambda p: shared_storage(p),
        "max-size data.pkl of EMPTY_DICT opcodes": lambda p: pickle_flood(p, b"}"),
        "max-size data.pkl of MARK opcodes": lambda p: pickle_flood(p, b"("),
        "max-size data.pkl of EMPTY_TUPLE opcodes": lambda p: pickle_flood(p, b")"),
        "max-size data.pkl of MEMOIZE opcodes": lambda p: pickle_flood(p, b"\x94", b")"),
        "max-size data.pkl of EMPTY_LIST opcodes": lambda p: pickle_flood(p, b"]"),
    }
    klue = REPO / "tests" / "golden" / "klue_tiny" / "bin" / "pytorch_model.bin"
    print("| file | size | outcome | peak traced memory |")
    print("|---|---|---|---|")
    for name, make in cases.items():
        path = str(directory / "case.bin")
        make(path)
        outcome, peak = measure(path)
        print(f"| {name} | {os.path.getsize(path) / MiB:.2f} MiB | {outcome} | "
              f"{peak / MiB:.1f} MiB |")
        os.remove(path)
    outcome, peak = measure(str(klue))
    print(f"| tests/golden/klue_tiny pytorch_model.bin | {os.path.getsize(klue) / MiB:.2f} MiB | "
          f"{outcome} | {peak / MiB:.1f} MiB |")


if __name__ == "__main__":
    main()
