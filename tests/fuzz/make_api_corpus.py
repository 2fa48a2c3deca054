#!/usr/bin/env python3
"""Writes the seed programs of fuzz_api (tests/fuzz/corpus/api/seed-*): small programs
in fuzz_api.c's byte encoding (an opcode byte, then each call's argument bytes in the
order the target reads them), so that fuzzing starts from training steps that work
and from the typical invalid calls:

    python3 tests/fuzz/make_api_corpus.py

The encoding follows fuzz_api.c: keep the constants below in step with its ops[]
table and readers when they change (a seed that drifts still runs, it only stops
meaning what its name says)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# index in fuzz_api.c's ops[] (the first of each kind)
CREATE, UNARY, SCALAR, BINARY, VIEW, REDUCE, CONCAT, LOSS, CONV, ACTIVATE, BACKWARD, \
    MODES, FREE, PVIEW, INSPECT, METRICS, OPTIM, MODEL, PREP = \
    0, 3, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23
RESET = 250
F32, F64, I32 = 0, 6, 11           # dtype() bytes
V0, V1, VM1, VHALF = 0, 1, 2, 3    # value() bytes: 0, 1, -1, 0.5
D_2_40 = 226                       # dim() byte of 2^40 (special_dims[226 % 11])


def shape(*dims):
    return [len(dims)] + list(dims)


def create(slot, dt, dims, which, *extra):
    """which: 0 zeros, 1 ones, 2 full, 3 rand_uniform, 4 rand_normal"""
    return [CREATE, dt] + shape(*dims) + [which, slot, 1] + list(extra)


def requires_grad(slot):
    return [INSPECT, slot, slot, 9] + [0] * 8 + [0, V0, 1]


def binary(which, a, b, out):
    """which: 0 add, 1 sub, 2 mul, 3 div, 4 matmul"""
    return [BINARY, a, b, which, out]


def unary(which, x, out, *extra):
    """which: 5 relu, 6 sigmoid, 16 l2_penalty (extra: lambda byte)"""
    return [UNARY, x, which, out] + list(extra)


def total(x, out):
    """tg_sum over every axis"""
    return [REDUCE, x, 0, out, 0, 1] + [0] * 10 + [0, 0, 1]


def backward(root):
    return [BACKWARD, root, 0, 0, 0]


def mlp_step():
    return (create(0, F32, (4, 3), 3, VM1, V1, 5, 0) + create(1, F32, (3, 2), 4, V0, V1, 7, 0)
            + requires_grad(1) + binary(4, 0, 1, 2) + unary(5, 2, 3) + total(3, 4)
            + backward(4) + [RESET])


def cnn_step():
    no_pair = [0]
    return (create(0, F64, (2, 1, 5, 5), 3, VM1, V1, 1, 0)
            + create(1, F64, (3, 1, 3, 3), 4, V0, V1, 2, 0) + requires_grad(1)
            # conv2d(x, w, no bias), default options: [1, 5, 5] -> [2, 3, 3, 3]
            + [CONV, 0, 1, 0, 0, 2] + no_pair * 4 + [1, 1]
            # max_pool2d 2x2 of it
            + [CONV, 2, 1, 0, 5, 3, 1, 2, 2] + no_pair * 3
            + total(3, 4) + backward(4) + [RESET])


def model_step():
    return ([MODEL, 0, 1, 9, V0, 3, 4, 1]          # tg_model_new(F32), dense 3 -> 4
            + [MODEL, 1, 1, V0]                    # relu
            + [MODEL, 0, V0, 4, 2, 1]              # dense 4 -> 2
            + create(0, F32, (5, 3), 3, VM1, V1, 3, 0)
            + create(1, I32, (5,), 0)              # labels, all class 0
            + [MODEL, 7, 0, 2, 1]                  # forward(x, training) -> slot 2
            + [LOSS, 2, 1, 1, 0, 3, 1, 1, 1]       # softmax_cross_entropy -> slot 3
            + backward(3) + [RESET])


def optimizer_step():
    return (create(0, F32, (3,), 3, VM1, V1, 4, 0) + requires_grad(0)
            + unary(16, 0, 1, V1) + backward(1)
            + [OPTIM, 1, 0, 0, 0, 3, 1, 1, 0, 1]  # adam over slot 0, two steps
            + [RESET])


def invalid_calls():
    return (create(0, F32, (2, 3), 1) + create(1, F32, (4, 5), 1)
            + binary(4, 0, 1, 2)                    # matmul [2,3] x [4,5]: TG_ESHAPE
            + [RESET]
            + [REDUCE, 0, 0, 3, 1, 1] + [203] * 10 + [0, 0, 1]  # sum over axis 8: range
            + [RESET]
            + create(2, F32, (D_2_40, D_2_40), 0)   # [2^40, 2^40]: overflow, rejected
            + create(3, I32, (2, 3), 1) + unary(5, 3, 4)        # relu of i32: TG_EDTYPE
            + [RESET])


SEEDS = {
    "seed-mlp-step": mlp_step(),
    "seed-cnn-step": cnn_step(),
    "seed-model-step": model_step(),
    "seed-optimizer-step": optimizer_step(),
    "seed-invalid-calls": invalid_calls(),
}

if __name__ == "__main__":
    d = os.path.join(HERE, "corpus", "api")
    os.makedirs(d, exist_ok=True)
    for name, prog in SEEDS.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes(prog))
