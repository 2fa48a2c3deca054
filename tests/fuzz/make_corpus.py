#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): valid files
and corrupt ones that each reach a different rejection. Valid checkpoints come from the
fuzz_gen_seed program of a build (the target's own model); each corrupt checkpoint
carries a valid header checksum (XXH3-64 from Debian's `xxhsum -H3`, package xxhash)
unless the checksum itself is what it breaks, so it reaches its intended rejection:

    python3 tests/fuzz/make_corpus.py build/tests/fuzz/fuzz_gen_seed

(the sound-file seeds alone: python3 -c 'import sys; sys.path[:0] = ["tests/fuzz"];
import make_corpus; make_corpus.audio()')

Units that a fuzz_checkpoint run adds to corpus/checkpoint/ get a valid header checksum
(the fuzz build does not stop at mismatches, the replay tests do) with

    python3 tests/fuzz/make_corpus.py --reseal FILE...

Regressions found by fuzzing are added by hand as corpus/<target>/crash-*."""
import gzip
import json
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def xxh3(data):
    """XXH3-64 (seed 0) as 16 hex digits, from Debian's xxhsum (package xxhash)."""
    out = subprocess.run(["xxhsum", "-H3", "-"], input=data, capture_output=True,
                         check=True).stdout.decode()
    return re.search(r"\b([0-9a-f]{16})\b", out).group(1)


HKEY = b'"header_xxh3":"'


def sealed(text, tail=b""):
    """8-byte length + header text (padded with spaces to a multiple of 8) + tail, with
    header_xxh3 set as src/io/checkpoint.h defines it: the text must hold
    "header_xxh3":"<16 digits>" exactly once; the digits become the XXH3-64 of the length
    and the padded text with those digits read as "0000000000000000"."""
    text += b" " * (-len(text) % 8)
    assert text.count(HKEY) == 1, text[:200]
    at = text.index(HKEY) + len(HKEY)
    text = text[:at] + b"0" * 16 + text[at + 16:]
    prefix = struct.pack("<Q", len(text))
    return prefix + text[:at] + xxh3(prefix + text).encode() + text[at + 16:] + tail


def unsealed(text, tail):
    """8-byte length + header text padded as the writer pads it + tail, no checksum set"""
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + tail


def compact(h):
    return json.dumps(h, separators=(",", ":"), sort_keys=True).encode()


def checkpoints(gen):
    d = os.path.join(HERE, "corpus", "checkpoint")
    os.makedirs(d, exist_ok=True)
    subprocess.run([gen, d], check=True)
    with open(os.path.join(d, "valid-adam.safetensors"), "rb") as f:
        good = f.read()
    hl = struct.unpack("<Q", good[:8])[0]
    header, data = good[8:8 + hl], good[8 + hl:]
    assert sealed(compact(json.loads(header)), data) == good, "make_corpus.py and the writer disagree"

    def put_h(name, h, tail=data):
        """the header h re-serialized as the writer does, with a valid header checksum"""
        put("checkpoint", name, sealed(compact(h), tail))

    def edit():
        return json.loads(header)

    # rejected before the JSON is parsed (the header checksum is not recomputed)
    put("checkpoint", "short.bin", good[:5])
    put("checkpoint", "truncated-header", good[:8 + hl // 2])
    put("checkpoint", "length-past-end", struct.pack("<Q", len(good)) + good[8:])
    put("checkpoint", "length-huge", b"\xff" * 8 + good[8:])
    h = edit()
    del h["__metadata__"]["header_xxh3"]
    h["__metadata__"]["format"] = "tapegrad-checkpoint-1"
    put("checkpoint", "format-1", unsealed(compact(h), data))
    h = edit()
    h["model.0.bias"]["header_xxh3"] = "0" * 16
    put("checkpoint", "checksum-twice", unsealed(compact(h), data))
    at = 8 + header.index(HKEY) + len(HKEY)
    put("checkpoint", "checksum-uppercase", good[:at] + b"A" + good[at + 1:])
    flip = bytearray(good)
    flip[8 + header.index(b'"shape":[3,4]') + 9] ^= 1  # 3 -> 2: only the checksum notices
    put("checkpoint", "header-bit-flip", bytes(flip))
    # rejected while or after parsing (the header checksum is valid)
    put("checkpoint", "not-json", sealed(b'{"__metadata__":{"header_xxh3":"0000000000000000"},"a":'))
    put("checkpoint", "not-object", sealed(b'[{"header_xxh3":"0000000000000000"}]'))
    put("checkpoint", "duplicate-key", sealed(
        b'{"__metadata__":{"header_xxh3":"0000000000000000"},"a":1,"a":2}'))
    put("checkpoint", "too-complex", sealed(
        b'{"__metadata__":{"header_xxh3":"0000000000000000"},"a":[' + b",".join([b"{}"] * 24000)
        + b"]}"))
    put("checkpoint", "metadata-array", sealed(b'{"__metadata__":[{"header_xxh3":"0000000000000000"}]}'))
    h = edit()
    h["model.0.bias"]["header_xxh3"] = h["__metadata__"].pop("header_xxh3")
    put_h("checksum-outside-metadata", h)
    h = edit()
    h["header_xxh3"] = h.pop("__metadata__")["header_xxh3"]
    put_h("no-metadata", h)
    h = edit()
    h["__metadata__"]["format"] = "tapegrad-checkpoint-1"
    put_h("format-1-with-checksum", h)
    h = edit()
    h["__metadata__"]["epoch"] = 3
    put_h("metadata-number", h)
    h = edit()
    for i in range(1025):
        h["t%d" % i] = 0
    put_h("too-many-tensors", h)
    h = edit()
    h["model.0.bias"]["extra"] = 1
    put_h("unknown-field", h)
    h = edit()
    h["model.0.bias"]["dtype"] = "F99"
    put_h("unknown-dtype", h)
    h = edit()
    h["model.0.bias"]["shape"] = [-4]
    put_h("negative-dim", h)
    h = edit()
    h["model.0.bias"]["shape"] = [1] * 9
    put_h("rank-9", h)
    h = edit()
    h["model.0.weight"]["dtype"] = "F64"
    put_h("offsets-wrong-size", h)
    h = edit()
    b, e = h["model.0.weight"]["data_offsets"]
    h["model.0.weight"]["data_offsets"] = [b + 4, e + 4]
    put_h("overlapping-offsets", h)
    put_h("truncated-data", edit(), data[:-3])
    put("checkpoint", "trailing-byte", good + b"\0")
    h = edit()
    h["__metadata__"]["xxh3.model.9.weight"] = "0" * 16
    put_h("checksum-of-absent-tensor", h)
    h = edit()
    del h["__metadata__"]["xxh3.model.0.bias"]
    put_h("checksum-missing", h)
    h = edit()
    h["__metadata__"]["xxh3.model.0.bias"] = h["__metadata__"]["xxh3.model.0.bias"][:15]
    put_h("checksum-short", h)
    flip = bytearray(good)
    flip[8 + hl + 1] ^= 1
    put("checkpoint", "data-bit-flip", bytes(flip))
    h = edit()
    key = next(k for k in h if k.startswith("optim."))
    h["__metadata__"]["xxh3." + key] = "0" * 16
    put_h("optim-checksum", h)
    # valid safetensors that are not this model's checkpoint
    h = edit()
    h["model.9.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    h["__metadata__"]["xxh3.model.9.weight"] = xxh3(b"\0" * 4)
    put_h("extra-tensor", h, data + b"\0" * 4)
    h = edit()
    h["model.0.weigh"] = h.pop("model.0.weight")
    h["__metadata__"]["xxh3.model.0.weigh"] = h["__metadata__"].pop("xxh3.model.0.weight")
    put_h("renamed-tensor", h)
    h = edit()
    h["model.0.weight"]["dtype"] = "I32"
    put_h("wrong-dtype", h)
    h = edit()
    h["model.0.weight"]["shape"] = [4, 3]
    put_h("wrong-shape", h)
    h = edit()
    h["__metadata__"]["epoch"] = "-1"
    put_h("negative-epoch", h)
    h = edit()
    h["__metadata__"]["optim_steps"] = "9223372036854775808"
    put_h("steps-over-int64", h)
    h = edit()
    del h["__metadata__"]["rng_counter"]
    put_h("no-rng-counter", h)
    h = edit()
    h["__metadata__"]["optim"] = "sgd"
    put_h("other-optimizer", h)


def reseal(path):
    """Gives a checkpoint unit found by fuzz_checkpoint a valid header checksum, in place.
    The fuzz build does not stop at checksum mismatches, the replay tests do: resealed,
    the unit takes the same path in both. Left alone when its checksum cannot be located
    (no valid length, or no single "header_xxh3":"<16 lowercase hex digits>")."""
    with open(path, "rb") as f:
        data = f.read()
    hl = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else -1
    if hl < 0 or hl > len(data) - 8:
        return False
    text = data[8:8 + hl]
    if text.count(HKEY) != 1:
        return False
    at = text.index(HKEY) + len(HKEY)
    if not re.fullmatch(rb'[0-9a-f]{16}"', text[at:at + 17]):
        return False
    digest = xxh3(data[:8] + text[:at] + b"0" * 16 + text[at + 16:]).encode()
    with open(path, "wb") as f:
        f.write(data[:8 + at] + digest + data[8 + at + 16:])
    return True


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
    # the options added later: skipped lines, names, float targets, gzip
    named = b"# stamp\ny,a,name,b\n1.5,2,setosa,3\n-2.25,4,virginica,5\n"
    put("csv", "names.csv", named)
    put("csv", "names.csv.gz", gzip.compress(named, mtime=0))
    put("csv", "names-unknown.csv", b"# stamp\ny,a,c\n1,2,3\n")
    put("csv", "names-ambiguous.csv", b"# stamp\ny,a,b,a\n1,2,3,4\n")
    put("csv", "names-quoted-crlf.csv", b'# stamp\r\n"y", "a" ,"b"\r\n1,2,3\r\n')
    put("csv", "names-ragged.csv", b"# stamp\ny,a,b\n1,2\n")
    put("csv", "names-header-only.csv", b"# stamp\ny,a,b\n")
    put("csv", "float-target.csv", b"skip\nskip\n0.25,1\n-1e30,2\n")
    put("csv", "float-target-f32-overflow.csv", b"skip\nskip\n1e39,1\n")
    gz = bytearray(gzip.compress(named * 50, mtime=0))
    put("csv", "names-cut.csv.gz", bytes(gz[: len(gz) // 2]))
    gz[-8] ^= 0xFF
    put("csv", "names-bad-crc.csv.gz", bytes(gz))
    put("csv", "empty.csv.gz", gzip.compress(b"", mtime=0))


def wav(fmt, channels, rate, bits, data, riff_size=None, data_size=None):
    """A canonical WAV: RIFF header, 16-byte fmt chunk (format 1 PCM, 3 float), data."""
    block = channels * bits // 8
    fmt_chunk = struct.pack("<4sIHHIIHH", b"fmt ", 16, fmt, channels, rate, rate * block,
                            block, bits)
    body = b"WAVE" + fmt_chunk + struct.pack("<4sI", b"data",
                                             len(data) if data_size is None else data_size) + data
    return struct.pack("<4sI", b"RIFF", len(body) if riff_size is None else riff_size) + body


def audio():
    pcm = struct.pack("<16h", *[int(8000 * ((i % 8) - 4)) for i in range(16)])
    put("audio", "mono-16bit.wav", wav(1, 1, 16000, 16, pcm))
    put("audio", "stereo-16bit.wav", wav(1, 2, 22050, 16, pcm))
    put("audio", "mono-8bit.wav", wav(1, 1, 8000, 8, bytes(range(0, 256, 16))))
    put("audio", "float.wav", wav(3, 1, 44100, 32, struct.pack("<4f", 0.5, -0.5, 0.25, 1.5)))
    put("audio", "nan.wav", wav(3, 1, 16000, 32, struct.pack("<3f", 0.1, float("nan"), 0.2)))
    put("audio", "inf.wav", wav(3, 1, 16000, 32, struct.pack("<2f", float("inf"), 0.2)))
    put("audio", "no-samples.wav", wav(1, 1, 16000, 16, b""))
    put("audio", "data-size-huge.wav", wav(1, 1, 16000, 16, pcm, data_size=0x7FFFFFF0))
    put("audio", "riff-size-short.wav", wav(1, 1, 16000, 16, pcm, riff_size=4))
    put("audio", "rate-zero.wav", wav(1, 1, 0, 16, pcm))
    put("audio", "channels-zero.wav", wav(1, 0, 16000, 16, pcm))
    put("audio", "channels-many.wav", wav(1, 1000, 16000, 16, pcm))
    put("audio", "bits-odd.wav", wav(1, 1, 16000, 13, pcm))
    put("audio", "truncated-header.wav", wav(1, 1, 16000, 16, pcm)[:20])
    put("audio", "truncated-data.wav", wav(1, 1, 16000, 16, pcm)[:-3])
    put("audio", "empty", b"")
    put("audio", "text", b"this is not a sound file\n")
    put("audio", "flac-magic-only", b"fLaC" + bytes(30))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--reseal":
        for p in sys.argv[2:]:
            print(("resealed " if reseal(p) else "left as is ") + p)
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    checkpoints(sys.argv[1])
    idx()
    csv()
    audio()
