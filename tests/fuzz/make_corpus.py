#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): valid files
and corrupt ones that each reach a different rejection. Valid checkpoints come from the
fuzz_gen_seed program of a build (the target's own model):

    python3 tests/fuzz/make_corpus.py build/tests/fuzz/fuzz_gen_seed

Regressions found by fuzzing are added by hand as corpus/<target>/crash-*."""
import gzip
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def checkpoints(gen):
    d = os.path.join(HERE, "corpus", "checkpoint")
    os.makedirs(d, exist_ok=True)
    subprocess.run([gen, d], check=True)
    with open(os.path.join(d, "valid-adam.safetensors"), "rb") as f:
        good = f.read()
    hl = struct.unpack("<Q", good[:8])[0]
    header, data = good[8:8 + hl], good[8 + hl:]
    hdr = json.loads(header)

    def with_header(h, tail=data):
        js = json.dumps(h, separators=(",", ":"), sort_keys=True).encode()
        return struct.pack("<Q", len(js)) + js + tail

    put("checkpoint", "short.bin", good[:5])
    put("checkpoint", "truncated-header", good[:8 + hl // 2])
    put("checkpoint", "truncated-data", good[:-3])
    put("checkpoint", "trailing-byte", good + b"\0")
    put("checkpoint", "length-past-end", struct.pack("<Q", len(good)) + good[8:])
    put("checkpoint", "length-huge", b"\xff" * 8 + good[8:])
    put("checkpoint", "not-json", struct.pack("<Q", 5) + b"{\"a\":" + data)
    put("checkpoint", "not-object", struct.pack("<Q", 7) + b"[1,2,3]")
    flip = bytearray(good)
    flip[8 + hl + 1] ^= 1
    put("checkpoint", "data-bit-flip", bytes(flip))
    h = json.loads(header)
    del h["__metadata__"]
    put("checkpoint", "no-metadata", with_header(h))
    h = json.loads(header)
    h["model.0.weight"]["dtype"] = "F64"
    put("checkpoint", "wrong-dtype", with_header(h))
    h = json.loads(header)
    h["model.0.weight"]["shape"] = [4, 3]
    put("checkpoint", "wrong-shape", with_header(h))
    h = json.loads(header)
    b, e = h["model.0.weight"]["data_offsets"]
    h["model.0.weight"]["data_offsets"] = [b + 4, e + 4]
    put("checkpoint", "overlapping-offsets", with_header(h))
    h = json.loads(header)
    h["__metadata__"]["optim"] = "sgd"
    put("checkpoint", "other-optimizer", with_header(h))
    h = json.loads(header)
    h["__metadata__"]["epoch"] = "-1"
    put("checkpoint", "negative-epoch", with_header(h))
    h = json.loads(header)
    h["model.9.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    put("checkpoint", "extra-tensor", with_header(h, data + b"\0\0\0\0"))
    h = json.loads(header)
    key = next(k for k in h if k.startswith("optim."))
    h["__metadata__"]["xxh3." + key] = "0" * 16
    put("checkpoint", "optim-checksum", with_header(h))


def idx():
    img = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(i * 20 for i in range(12))
    lab = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 3, 255])
    put("idx", "images-2x2x3", img)
    put("idx", "labels-3", lab)
    put("idx", "images-2x2x3.gz", gzip.compress(img, mtime=0))
    put("idx", "labels-3.gz", gzip.compress(lab, mtime=0))
    put("idx", "empty", b"")
    put("idx", "short-magic", bytes([0, 0]))
    put("idx", "wrong-magic", bytes([0, 0, 9, 1, 0, 0, 0, 1, 5]))
    put("idx", "float-type", bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 5]))
    put("idx", "truncated-header", img[:10])
    put("idx", "zero-dim", bytes([0, 0, 8, 1, 0, 0, 0, 0]))
    put("idx", "huge-dims", bytes([0, 0, 8, 3]) + b"\x7f\xff\xff\xff" * 3)
    put("idx", "truncated-data", img[:-1])
    put("idx", "trailing-byte", lab + b"\0")
    put("idx", "lying-header.gz",
        gzip.compress(bytes([0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x80]) + bytes(100), mtime=0))
    gz = bytearray(gzip.compress(lab, mtime=0))
    gz[-8] ^= 0xFF
    put("idx", "bad-crc.gz", bytes(gz))
    put("idx", "cut.gz", gzip.compress(img, mtime=0)[:20])


def csv():
    put("csv", "features.csv", b"1,2.5,-3e2\n4, 5 ,6\r\n\n7,8,9\n")
    put("csv", "header-labels.csv", b"label,a,b\n0,1.5,2\n1,-3,4\n2,5,6\n")
    put("csv", "semicolon.csv", b"0.5;1;2\n-1;3;4\n")
    put("csv", "empty.csv", b"")
    put("csv", "blank-lines.csv", b"\n \n\t\n")
    put("csv", "header-only.csv", b"label,a,b\n")
    put("csv", "not-a-number.csv", b"1,x2,3\n")
    put("csv", "trailing-garbage.csv", b"1,2.5kg,3\n")
    put("csv", "empty-cell.csv", b"1,,3\n")
    put("csv", "ragged.csv", b"1,2,3\n4,5\n")
    put("csv", "nan-inf.csv", b"nan,inf,-inf\n")
    put("csv", "overflow.csv", b"1e999,2,3\n")
    put("csv", "hex-float.csv", b"0x1p3,0x10,2\n")
    put("csv", "fractional-label.csv", b"label,a\n0.5,1\n")
    put("csv", "huge-label.csv", b"label,a\n3e9,1\n")
    put("csv", "nul-byte.csv", b"1,2\n\0\n")
    put("csv", "no-final-newline.csv", b"1,2\n3,4")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    checkpoints(sys.argv[1])
    idx()
    csv()
