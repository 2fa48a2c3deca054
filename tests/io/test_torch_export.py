#!/usr/bin/env python3
"""scripts/export_torch.py against PyTorch: the models of torch_models.c (trained a few
steps and saved by tapegrad, with an evaluation output for a fixed input) are exported,
loaded into the matching torch.nn.Sequential with load_state_dict(strict=True), and
must give tapegrad's output for the same input (float32: within 1e-5; float64: 1e-12).
Both the safetensors output (read here by a reader of our own: Debian has no
safetensors package) and the --pt file are checked. Skipped (77) without PyTorch
(Debian's python3-torch).

usage: test_torch_export.py TORCH_MODELS_EXE EXPORT_SCRIPT
"""
import collections
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
    from torch import nn
except ImportError:
    print("skip: PyTorch (python3-torch) is not installed for", sys.executable)
    sys.exit(77)

failures = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        failures.append(msg)


def load(path):
    """a safetensors file as {name: tensor}, read with struct and json only"""
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64,
              "I32": torch.int32}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        buf = bytearray(raw[8 + n + b:8 + n + end])
        t = torch.frombuffer(buf, dtype=dtypes[e["dtype"]]) if buf else \
            torch.zeros(0, dtype=dtypes[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def mlp():
    mods = [nn.Linear(5, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.1), nn.Dropout(0.3),
            nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 6, bias=False), nn.Softplus()]
    names = [str(i) for i in range(len(mods))]
    return nn.Sequential(collections.OrderedDict(
        list(zip(names, mods)) + [("head", nn.Linear(6, 3)), ("9", nn.Sigmoid())]))


def cnn():
    return nn.Sequential(nn.Conv2d(2, 4, (3, 3), padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, (3, 2), groups=2), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(12, 5))


def layer_norm():
    return nn.Sequential(nn.LayerNorm([3, 4]), nn.Flatten(), nn.Linear(12, 4), nn.Tanh(),
                         nn.Linear(4, 2))


MODELS = {"mlp": (mlp, torch.float32, 1e-5), "mlp64": (mlp, torch.float64, 1e-12),
          "cnn": (cnn, torch.float32, 1e-5), "layer_norm": (layer_norm, torch.float32, 1e-5)}


def compare(name, state, io, tol, source):
    build, dtype, _ = MODELS[name]
    model = build().to(dtype)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        check(False, f"{name} ({source}): load_state_dict(strict=True): {e}")
        return
    model.eval()
    with torch.no_grad():
        got = model(io["input"])
    want = io["output"]
    diff = (got - want).abs().max().item() if got.shape == want.shape else float("inf")
    scale = max(1.0, want.abs().max().item())
    check(got.dtype == want.dtype and diff <= tol * scale,
          f"{name} ({source}): torch output {list(got.shape)} vs tapegrad {list(want.shape)}: "
          f"max |difference| {diff:.3g} (tolerance {tol * scale:.3g})")
    return got


def main():
    exe, script = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([exe, d], check=True)
        for name, (_, dtype, tol) in MODELS.items():
            ckpt, st, pt = (os.path.join(d, name + ext) for ext in (".ckpt", ".st", ".pt"))
            r = subprocess.run([sys.executable, script, ckpt, st, "--pt", pt, "-v"],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"{name}: export exits 0 ({r.stderr.strip()})")
            if r.returncode != 0:
                continue
            io = load(os.path.join(d, name + ".io"))
            state = load(st)
            # the layouts themselves, not only the outputs
            ckpt_t = load(ckpt)
            first = "0.weight" if name != "layer_norm" else "2.weight"
            check(torch.equal(state[first], ckpt_t["model." + first].t()
                              if name != "cnn" else ckpt_t["model." + first]),
                  f"{name}: {first} is the checkpoint's "
                  f"{'weight' if name == 'cnn' else 'weight transposed'}")
            compare(name, state, io, tol, "safetensors")
            compare(name, torch.load(pt), io, tol, "--pt")
        if "mlp" in MODELS:
            check(load(os.path.join(d, "mlp.st"))["1.num_batches_tracked"].dtype == torch.int64,
                  "mlp: BatchNorm's num_batches_tracked added as int64")

        # not a tapegrad checkpoint: a message and exit 1, no output
        bad = os.path.join(d, "bad.ckpt")
        for what, data in [("garbage", b"not a checkpoint at all"),
                           ("io file (no format)", open(os.path.join(d, "mlp.io"), "rb").read()),
                           ("header length beyond the file", struct.pack("<Q", 1 << 40))]:
            with open(bad, "wb") as f:
                f.write(data)
            out = os.path.join(d, "bad.st")
            r = subprocess.run([sys.executable, script, bad, out], capture_output=True,
                               text=True)
            check(r.returncode == 1 and "export_torch: " in r.stderr and
                  not os.path.exists(out), f"rejects {what}: {r.stderr.strip()}")
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
