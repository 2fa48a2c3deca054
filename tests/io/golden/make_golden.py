#!/usr/bin/env python3
"""Builds the golden safetensors files of tests/io/test_golden.c from the published
format alone (https://huggingface.co/docs/safetensors: 8-byte little-endian header
length N, N bytes of JSON header, then the raw little-endian data; the tensors tile the
data) and the integrity fields documented in src/io/checkpoint.h. Uses only struct and
json; the XXH3-64 hashes come from Debian's xxhsum (package xxhash): `xxhsum -H3`.

  tapegrad.safetensors  what tg_safetensors_write must produce, byte for byte, for the
                        tensors below (compact JSON with sorted keys, padded with spaces
                        to a multiple of 8, checksums in __metadata__)
  checkpoint.safetensors  what tg_checkpoint_save writes for a Dense(2, 3) model with
                        the parameters below at epoch 7, and what tg_checkpoint_load loads
  foreign.safetensors   a file as another tool could write it: no tapegrad metadata,
                        keys in no particular order, data in another order, dtypes that
                        tapegrad converts (F16, BF16, I64, U8, I8, BOOL)

Run from anywhere: python3 tests/io/golden/make_golden.py  (writes beside itself)."""
import json
import os
import re
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def xxh3(data: bytes) -> str:
    out = subprocess.run(["xxhsum", "-H3", "-"], input=data, capture_output=True,
                         check=True).stdout.decode()
    return re.search(r"\b([0-9a-f]{16})\b", out).group(1)


def build(tensors, metadata, ours, key_order=None, data_order=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    names = [t[0] for t in tensors]
    data_order = data_order or names
    by_name = {t[0]: t for t in tensors}
    header, blob = {}, b""
    for name in data_order:
        _, dtype, shape, raw = by_name[name]
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    meta = dict(metadata)
    if ours:
        meta["header_xxh3"] = "0" * 16
        for name in names:
            meta["xxh3." + name] = xxh3(by_name[name][3])
    if meta:
        header["__metadata__"] = meta
    if key_order:
        header = {k: header[k] for k in key_order}
    text = json.dumps(header, sort_keys=ours, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    prefix = struct.pack("<Q", len(text))
    if ours:
        placeholder = b'"header_xxh3":"' + b"0" * 16 + b'"'
        assert text.count(placeholder) == 1
        digest = xxh3(prefix + text).encode()
        text = text.replace(placeholder, b'"header_xxh3":"' + digest + b'"')
    return prefix + text + blob


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


# must match tests/io/test_golden.c
ours = [
    ("weight", "F32", [2, 3], f32(0.5, -1.0, 2.25, 3.0, -0.125, 1024.0)),
    ("bias", "F64", [3], struct.pack("<3d", 1.5, -2.0, 1e-300)),
    ("labels", "I32", [4], struct.pack("<4i", 0, 1, -7, 2147483647)),
    ("scalar", "F32", [], f32(42.0)),
    ("empty", "F32", [0], b""),
]
foreign = [
    ("half", "F16", [4], struct.pack("<4e", 1.0, -2.5, 65504.0, 2.0 ** -24)),
    ("brain", "BF16", [2], f32(1.0)[2:] + f32(-3.0)[2:]),
    ("long", "I64", [2], struct.pack("<2q", -5, 2147483647)),
    ("bytes", "U8", [3], bytes([0, 200, 255])),
    ("small", "I8", [2], struct.pack("<2b", -128, 127)),
    ("flags", "BOOL", [2], bytes([1, 0])),
    ("matrix", "F32", [2, 2], f32(1.0, 2.0, 3.0, 4.0)),
]

checkpoint = [
    ("model.0.weight", "F32", [2, 3], f32(0.5, -1.0, 2.0, 0.25, 4.0, -8.0)),
    ("model.0.bias", "F32", [3], f32(1.0, 2.0, 3.0)),
]

with open(os.path.join(HERE, "checkpoint.safetensors"), "wb") as f:
    f.write(build(checkpoint, {"format": "tapegrad-checkpoint-2", "epoch": "7",
                               "rng_counter": "0"}, True))
with open(os.path.join(HERE, "tapegrad.safetensors"), "wb") as f:
    f.write(build(ours, {"source": "tapegrad golden test"}, True))
with open(os.path.join(HERE, "foreign.safetensors"), "wb") as f:
    f.write(build(foreign, {"format": "pt"}, False,
                  key_order=["matrix", "__metadata__", "flags", "half", "long", "brain", "bytes",
                             "small"],
                  data_order=["bytes", "matrix", "half", "small", "long", "flags", "brain"]))
