#!/usr/bin/python3
"""The PyTorch reference of examples/music (issue 20): the same features, the same
architecture, the same splits and the same training schedule, so that what is compared
is the learning and its speed.

The features are the ones tapegrad computes: examples/music --dump-features F writes the
clean (unaugmented) per-clip standardised log-mel spectrograms of the training set, the
same-library held-out notes and the held-out library, with their family labels, to the
safetensors file F, which this script reads (plain json + numpy; no safetensors module).
The model is examples/music's --arch 2d-global (the default), 1d or 2d layer for layer
(conv without bias, batch norm with momentum 0.1 and eps 1e-5, ReLU, max pooling, and
2d-global's maximum over frequency and time; He-uniform convolutions and hidden
dense layer, Glorot-uniform output layer, zero biases), trained with Adam (lr 2e-3,
betas 0.9/0.999, eps 1e-8) on shuffled batches of 32 (a smaller last batch is dropped,
as examples/music does) for 15 epochs. Initial weights and batch order come from
torch's own RNG (seed --seed), so individual runs differ from tapegrad's; means over
seeds are what compare. Compare it with `examples/music` without --augment: augmentation
needs the waveforms and is tapegrad's alone.

An epoch's seconds are its training and its pass over the same-library notes (the
validation that examples/music's tg_fit runs every epoch), as tapegrad counts them.

usage: bench/music_torch.py FEATURES.safetensors [--arch 2d-global|1d|2d] [--seed S] [--epochs N]
                            [--threads T] [--lr X] [--batch B]
Prints one line per epoch on stderr and a JSON object as the last line of stdout:
{"test_library", "test_acc", "same_library_acc", "train_acc", "epoch_seconds", ...}.
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

CLASSES = 12
DTYPES = {"F32": np.float32, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        lo, hi = h["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype=DTYPES[h["dtype"]]).reshape(h["shape"])
    return out, meta


def build(arch, sample, frames):
    layers = []
    if arch == "1d":
        ch, k, pad, pool = [sample[0], 64, 64, 64], (1, 5), (0, 2), (1, 2)
        h, w = 1, frames
    else:
        ch = [1, 8, 16, 32] if arch == "2d" else [1, 16, 32, 64, 128]
        k, pad, pool = (3, 3), (1, 1), (2, 2)
        h, w = sample[1], frames
    for i in range(len(ch) - 1):
        layers += [nn.Conv2d(ch[i], ch[i + 1], k, padding=pad, bias=False),
                   nn.BatchNorm2d(ch[i + 1], eps=1e-5, momentum=0.1), nn.ReLU(),
                   nn.MaxPool2d(pool)]
        h, w = (h if arch == "1d" else h // 2), w // 2
    if arch == "2d-global":  # the maximum of each channel over frequency and time
        layers.append(nn.MaxPool2d((h, w)))
        h = w = 1
    hidden, out = nn.Linear(ch[-1] * h * w, 64), nn.Linear(64, CLASSES)
    layers += [nn.Flatten(), hidden, nn.ReLU(), out]
    model = nn.Sequential(*layers)
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d) or mod is hidden:
            nn.init.kaiming_uniform_(mod.weight, a=0, nonlinearity="relu")  # He uniform
        if mod is out:
            nn.init.xavier_uniform_(mod.weight)
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.bias)
    return model


def accuracy(model, x, y, batch=256):
    if len(y) == 0:
        return None
    model.eval()
    hit = 0
    with torch.no_grad():
        for lo in range(0, len(y), batch):
            hit += (model(x[lo:lo + batch]).argmax(1) == y[lo:lo + batch]).sum().item()
    return hit / len(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("--arch", choices=["1d", "2d", "2d-global"], default="2d-global")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t, meta = read_safetensors(a.features)
    x = {k: torch.from_numpy(t["x_" + k].copy()) for k in ("train", "same", "test")}
    y = {k: torch.from_numpy(t["y_" + k].astype(np.int64)) for k in ("train", "same", "test")}
    sample = list(x["train"].shape[1:])
    frames = sample[2]
    if a.arch == "1d" and sample[1] != 1 or a.arch != "1d" and sample[0] != 1:
        sys.exit(f"music_torch: the features are shaped {sample}: dumped with another --arch")
    model = build(a.arch, sample, frames)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    lossf = nn.CrossEntropyLoss()
    n = len(y["train"])
    secs = []
    for epoch in range(1, a.epochs + 1):
        e0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        total, hits, batches = 0.0, 0, 0
        for lo in range(0, n - a.batch + 1, a.batch):
            idx = perm[lo:lo + a.batch]
            out = model(x["train"][idx])
            loss = lossf(out, y["train"][idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            hits += (out.argmax(1) == y["train"][idx]).sum().item()
            batches += 1
        same = accuracy(model, x["same"], y["same"])
        secs.append(time.perf_counter() - e0)  # training and validation, as tg_fit counts
        print(f"epoch {epoch}/{a.epochs}  train loss {total / batches:.4f} acc "
              f"{hits / (batches * a.batch):.4f}  same-library acc {same}  {secs[-1]:.1f} s",
              file=sys.stderr)
    res = {"test_library": meta.get("test_library"),
           "test_acc": round(accuracy(model, x["test"], y["test"]), 4),
           "same_library_acc": accuracy(model, x["same"], y["same"]),
           "train_acc": round(accuracy(model, x["train"], y["train"]), 4),
           "arch": a.arch, "seed": a.seed, "epochs": a.epochs, "threads": a.threads,
           "epoch_seconds": round(sum(secs) / len(secs), 3), "torch": torch.__version__}
    if res["same_library_acc"] is not None:
        res["same_library_acc"] = round(res["same_library_acc"], 4)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
