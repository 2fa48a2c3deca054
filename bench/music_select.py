#!/usr/bin/python3
"""How examples/music's model was chosen (issue 20) without looking at the held-out
library: train on ONE of the two training libraries and validate on the OTHER, both
directions, two seeds each, and compare the mean validation accuracy of candidate
models. With MuseScore held out, that is FluidR3 -> TimGM6mb and TimGM6mb -> FluidR3;
only the training and same-library sets are used (x_test, the held-out library, never).

The features are examples/music's (--dump-features F, with the library index of every
clip in l_train / l_same), in either layout; the 1-D candidates see them as
[N, mels, 1, frames], the 2-D ones (--ch2 C1 C2 ...) as [N, 1, mels, frames]. Training as
bench/music_torch.py: Adam (--lr 2e-3), batches of 32, 15 epochs; the 1-D candidates
with He-uniform weights and zero biases, the 2-D ones with PyTorch's default
initialisation.

Candidates (the README's music section lists what each scored):
  --head flat|gap|gmp  after the convolutions: flatten + dense (flat, examples/music's
                       1d model), global average (gap) or global max (gmp) pooling
  --width W --layers L --k K   the 1-D model's channels, depth and kernel width
  --ch2 C1 C2 ...      a 2-D model instead: 3x3 convs with these channels, 2x2 pooling
  --drop P --ls E --wd D --cos --shift S --mix A --delta --bandnorm
                       dropout before the hidden layer, label smoothing, AdamW weight
                       decay, cosine learning-rate decay, a random roll of up to S mel
                       bands per batch, mixup with Beta(A, A), delta features as extra
                       channels, per-band mean removal

usage: bench/music_select.py FEATURES.safetensors [candidate flags] [--seeds 1 2]
Prints one JSON line: {"name", "mean", "runs": [[train_lib, val_lib, seed, acc], ...]}.
"""
import argparse, json, os, time, importlib.util
import numpy as np, torch
from torch import nn
spec = importlib.util.spec_from_file_location(
    "mt", os.path.join(os.path.dirname(os.path.abspath(__file__)), "music_torch.py"))
mt = importlib.util.module_from_spec(spec); spec.loader.exec_module(mt)

def build2d(c, mels, frames):
    L = []; ch = [1] + c.ch2
    for i in range(len(c.ch2)):
        L += [nn.Conv2d(ch[i], ch[i+1], 3, padding=1, bias=False), nn.BatchNorm2d(ch[i+1]),
              nn.ReLU(), nn.MaxPool2d(2)]
    L += [nn.AdaptiveMaxPool2d(1) if c.head == "gmp" else nn.AdaptiveAvgPool2d(1), nn.Flatten(),
          nn.Linear(ch[-1], 64), nn.ReLU(), nn.Linear(64, 12)]
    return nn.Sequential(*L)

def build(c, mels, frames):
    if c.ch2: return build2d(c, mels, frames)
    L = []
    ch = [mels] + [c.width] * c.layers
    w = frames
    for i in range(c.layers):
        L += [nn.Conv2d(ch[i], ch[i+1], (1, c.k), padding=(0, c.k // 2), bias=False),
              nn.BatchNorm2d(ch[i+1]), nn.ReLU(), nn.MaxPool2d((1, 2))]
        w //= 2
    if c.head == "flat":
        L += [nn.Flatten(), nn.Linear(ch[-1] * w, 64), nn.ReLU()]
        if c.drop: L += [nn.Dropout(c.drop)]
        L += [nn.Linear(64, 12)]
    else:
        L += [nn.AvgPool2d((1, w)) if c.head == "gap" else nn.MaxPool2d((1, w)), nn.Flatten()]
        if c.drop: L += [nn.Dropout(c.drop)]
        L += [nn.Linear(ch[-1], 64), nn.ReLU(), nn.Linear(64, 12)]
    m = nn.Sequential(*L)
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(mod.weight, a=0, nonlinearity="relu")
        if isinstance(mod, nn.Linear): nn.init.zeros_(mod.bias)
    return m

def acc(m, x, y):
    m.eval(); h = 0
    with torch.no_grad():
        for lo in range(0, len(y), 256):
            h += (m(x[lo:lo+256]).argmax(1) == y[lo:lo+256]).sum().item()
    return h / len(y)

def run(c, xtr, ytr, xv, yv, seed):
    torch.manual_seed(seed); np.random.seed(seed)
    if c.ch2:
        xtr = xtr.reshape(len(xtr), 1, xtr.shape[1], xtr.shape[3])
        xv = xv.reshape(len(xv), 1, xv.shape[1], xv.shape[3])
    m = build(c, xtr.shape[1], xtr.shape[3])
    opt = (torch.optim.AdamW(m.parameters(), lr=c.lr, weight_decay=c.wd) if c.wd
           else torch.optim.Adam(m.parameters(), lr=c.lr))
    lf = nn.CrossEntropyLoss(label_smoothing=c.ls)
    n = len(ytr); steps = c.epochs * (n // 32); st = 0
    for ep in range(c.epochs):
        m.train(); perm = torch.randperm(n)
        for lo in range(0, n - 31, 32):
            if c.cos:
                for g in opt.param_groups: g["lr"] = c.lr * 0.5 * (1 + np.cos(np.pi * st / steps))
            idx = perm[lo:lo+32]; x = xtr[idx]
            if c.mix:
                lam = float(np.random.beta(c.mix, c.mix)); j = torch.randperm(32)
                out = m(lam * x + (1 - lam) * x[j])
                loss = lam * lf(out, ytr[idx]) + (1 - lam) * lf(out, ytr[idx][j])
                opt.zero_grad(); loss.backward(); opt.step(); st += 1; continue
            if c.shift:
                x = torch.roll(x, int(torch.randint(-c.shift, c.shift + 1, (1,))), dims=1)
            loss = lf(m(x), ytr[idx]); opt.zero_grad(); loss.backward(); opt.step(); st += 1
    return acc(m, xv, yv)

ap = argparse.ArgumentParser()
ap.add_argument("features"); ap.add_argument("--name", default="")
ap.add_argument("--head", default="flat"); ap.add_argument("--width", type=int, default=64)
ap.add_argument("--layers", type=int, default=3); ap.add_argument("--k", type=int, default=5)
ap.add_argument("--drop", type=float, default=0); ap.add_argument("--ls", type=float, default=0)
ap.add_argument("--wd", type=float, default=0); ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--epochs", type=int, default=15); ap.add_argument("--cos", action="store_true")
ap.add_argument("--shift", type=int, default=0)
ap.add_argument("--delta", action="store_true")
ap.add_argument("--bandnorm", action="store_true")
ap.add_argument("--mix", type=float, default=0)
ap.add_argument("--ch2", type=int, nargs="*", default=[])
ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
c = ap.parse_args()
torch.set_num_threads(1)
t, meta = mt.read_safetensors(c.features)
X = torch.from_numpy(np.concatenate([t["x_train"], t["x_same"]]))
Y = torch.from_numpy(np.concatenate([t["y_train"], t["y_same"]]).astype(np.int64))
Lb = np.concatenate([t["l_train"], t["l_same"]])
if X.shape[1] == 1:  # dumped with a 2-D --arch: [N, 1, mels, frames], the same memory order
    X = X.reshape(len(X), X.shape[2], 1, X.shape[3])
if c.bandnorm:
    X = X - X.mean(dim=3, keepdim=True)
    X = X / X.std()
if c.delta:
    d = torch.zeros_like(X); d[..., 1:] = X[..., 1:] - X[..., :-1]
    X = torch.cat([X, d / d.std()], dim=1)
libs = sorted(set(Lb.tolist()))
res = []
t0 = time.time()
for a in libs:
    for b in libs:
        if a == b: continue
        for s in c.seeds:
            ia, ib = torch.from_numpy(np.where(Lb == a)[0]), torch.from_numpy(np.where(Lb == b)[0])
            res.append((a, b, s, run(c, X[ia], Y[ia], X[ib], Y[ib], s)))
print(json.dumps({"name": c.name, "mean": round(float(np.mean([r[3] for r in res])), 4),
                  "runs": [[a, b, s, round(v, 4)] for a, b, s, v in res], "secs": round(time.time() - t0)}), flush=True)
