#!/usr/bin/env python3
"""Exports a tapegrad checkpoint as a PyTorch state dict for torch.nn.Sequential.

    scripts/export_torch.py model.ckpt model_torch.safetensors [--pt model.pt] [-v]

A tapegrad checkpoint (tg_checkpoint_save, or an example's --save) is a safetensors
file whose model tensors are named "model.<layer>.<tensor>", where <layer> is the layer's
index in the model or the name tg_model_set_name gave it. The output holds the same
tensors under "<layer>.<tensor>", which are the names of an nn.Sequential whose modules
sit at the same indices (an OrderedDict for named layers), converted to PyTorch's
layouts:

  tapegrad layer        tensors (tapegrad layout)            PyTorch module
  Dense(in, out)        weight [in, out] -> [out, in], bias  nn.Linear(in, out)
  Conv2d                weight [out, in/groups, kh, kw], bias nn.Conv2d (same layout)
  BatchNorm             weight, bias, running_mean,          nn.BatchNorm1d / 2d
                        running_var; num_batches_tracked
                        (int64 scalar 0) is added
  LayerNorm             weight, bias (the normalized shape)  nn.LayerNorm
  activations, Dropout, pools, Flatten: no tensors; their torch modules take their places
  (nn.ReLU, nn.LeakyReLU(slope), nn.Sigmoid, nn.Tanh, nn.GELU(), nn.Softplus(),
  nn.Softmax(dim=-1), nn.Dropout, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten).

A checkpoint does not record layer types, so a weight is recognised by its shape: a
2-D weight is a Dense layer's (and transposed) unless the layer also has a bias of the
same 2-D shape, which only a LayerNorm over two axes has. Optimizer state ("optim.*") is
left out. The tensors keep the checkpoint's dtype (float32, or float64 for an F64 model:
call .double() on the torch model). Tensor checksums are not verified here (the C
loader does that); the header's structure is.

The output is a safetensors file (load it with safetensors.torch.load_file); --pt also
writes the state dict with torch.save (needs PyTorch), for a torch without the
safetensors package. Only the Python standard library is needed otherwise.
Exit status: 0, or 1 with a message on stderr for a file that is not a tapegrad
checkpoint or is malformed.
"""
import argparse
import json
import os
import struct
import sys

ITEMSIZE = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "F16": 2, "BF16": 2, "U8": 1, "I8": 1,
            "BOOL": 1, "U16": 2, "I16": 2, "U32": 4, "U64": 8}
# memoryview formats that move elements of a size without interpreting them
MOVE = {1: "B", 2: "H", 4: "I", 8: "Q"}


class BadFile(Exception):
    pass


def read_safetensors(path):
    """(header dict without __metadata__, metadata dict, data bytes)"""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise BadFile("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise BadFile(f"header length {n} beyond the file's {len(raw)} bytes")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadFile(f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise BadFile("header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    spans = []
    for name, e in header.items():
        try:
            dtype, shape, (b, end) = e["dtype"], e["shape"], e["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise BadFile(f"tensor {name!r}: needs dtype, shape and data_offsets") from None
        if not all(isinstance(v, int) for v in (b, end)) or not isinstance(shape, list):
            raise BadFile(f"tensor {name!r}: bad shape or data_offsets")
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise BadFile(f"tensor {name!r}: bad shape {shape}")
            count *= d
        if dtype not in ITEMSIZE or not (0 <= b <= end <= len(data)) or \
                end - b != count * ITEMSIZE[dtype]:
            raise BadFile(f"tensor {name!r}: dtype {dtype}, shape {shape} and offsets "
                          f"[{b}, {end}) do not fit ({len(data)} data bytes)")
        spans.append((b, end))
    spans.sort()
    pos = 0
    for b, end in spans:
        if b != pos:
            raise BadFile("tensor data overlaps or leaves gaps")
        pos = end
    if pos != len(data):
        raise BadFile(f"{len(data) - pos} bytes after the last tensor")
    return header, meta, data


def transpose2d(buf, rows, cols, itemsize):
    """the bytes of a row-major [rows, cols] matrix as its [cols, rows] transpose"""
    if rows * cols == 0:
        return bytes(buf)
    m = memoryview(buf).cast(MOVE[itemsize])
    return b"".join(m[c::cols].tobytes() for c in range(cols))


def convert(header, data, prefix="model."):
    """[(torch name, dtype, shape, bytes, note)] in the checkpoint's order"""
    model = {k[len(prefix):]: v for k, v in header.items() if k.startswith(prefix)}
    if not model:
        raise BadFile(f"no tensors named {prefix}*: not a tapegrad model checkpoint")
    ordered = sorted(model.items(), key=lambda kv: kv[1]["data_offsets"][0])
    out = []
    for name, e in ordered:
        layer, _, tensor = name.rpartition(".")
        raw = data[e["data_offsets"][0]:e["data_offsets"][1]]
        shape, note = list(e["shape"]), ""
        if tensor == "weight" and len(shape) == 2:
            bias = model.get(layer + ".bias")
            if not (bias and list(bias["shape"]) == shape):  # not a 2-D LayerNorm
                raw = transpose2d(raw, shape[0], shape[1], ITEMSIZE[e["dtype"]])
                note = f"Linear: transposed from {shape}"
                shape = [shape[1], shape[0]]
        out.append((name, e["dtype"], shape, bytes(raw), note))
        if tensor == "running_var" and layer + ".running_mean" in model:
            out.append((layer + ".num_batches_tracked", "I64", [], struct.pack("<q", 0),
                        "BatchNorm: added (0)"))
    return out


def write_safetensors(path, tensors, meta):
    header, pos = {}, 0
    for name, dtype, shape, raw, _ in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + len(raw)]}
        pos += len(raw)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for t in tensors:
            f.write(t[3])
    os.replace(tmp, path)


def write_pt(path, tensors):
    """torch.save of the state dict (tensors are little-endian, as tapegrad writes them
    only on little-endian hosts)"""
    try:
        import torch  # only for --pt
    except ImportError:
        raise BadFile(f"--pt needs PyTorch (Debian: python3-torch), which {sys.executable} "
                      "does not have; the safetensors file is written") from None
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64,
              "I32": torch.int32}
    state = {}
    for name, dtype, shape, raw, _ in tensors:
        t = torch.frombuffer(bytearray(raw), dtype=dtypes[dtype]) if raw else \
            torch.zeros(0, dtype=dtypes[dtype])
        state[name] = t.reshape(shape).clone()
    torch.save(state, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", help="a tapegrad checkpoint (safetensors)")
    ap.add_argument("output", help="the PyTorch-layout safetensors file to write")
    ap.add_argument("--pt", metavar="FILE", help="also torch.save the state dict to FILE")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print each tensor's name, shape and conversion")
    a = ap.parse_args(argv)
    try:
        header, meta, data = read_safetensors(a.checkpoint)
        fmt = meta.get("format", "") if isinstance(meta, dict) else ""
        if not str(fmt).startswith("tapegrad-checkpoint"):
            raise BadFile(f"__metadata__ format is {fmt!r}, not a tapegrad checkpoint")
        tensors = convert(header, data)
    except (OSError, BadFile) as e:
        print(f"export_torch: {a.checkpoint}: {e}", file=sys.stderr)
        return 1
    write_safetensors(a.output, tensors, {"format": "pt", "source": str(fmt)})
    if a.pt:
        try:
            write_pt(a.pt, tensors)
        except BadFile as e:
            print(f"export_torch: {e}", file=sys.stderr)
            return 1
    if a.verbose:
        for name, dtype, shape, _, note in tensors:
            print(f"{name:32} {dtype:4} {str(shape):16} {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
