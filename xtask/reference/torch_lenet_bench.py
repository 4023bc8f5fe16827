#!/usr/bin/env python3
"""PyTorch reference for the training-throughput comparison (`cargo xtask bench`).

The course's reference script (`../shared/reference/torch_lenet_bench.py`), extended to any
input shape and class count; with the defaults (1x28x28, 10 classes, an MNIST folder) it
builds the same network and runs the same loop.

Trains the reference LeNet-like network (the course architecture: conv1 C->3 k3 p3,
maxpool 2, conv2 3->16 k5, maxpool 2, conv3 16->110 k6, fc1 (110*h*w)->60, fc2 60->classes,
ReLU after every conv and after fc1, where h x w is conv3's output for the input size) with
plain SGD (lr 0.1) and cross-entropy on the first N training images of an IDX dataset, in
order, from tensors already in memory. That is the tightest eager PyTorch loop: no
DataLoader, no per-sample transforms.

Prints one JSON line per batch size: {"framework": "pytorch", "batch_size": B,
"images": N, "seconds": S, "images_per_s": R, "threads": T, "mean_loss": L, ...}.

Usage:
  python3 torch_lenet_bench.py DATA_DIR [--images 16000] [--batch-sizes 16,64]
         [--threads 0 (= torch default)] [--warmup-batches 20]
         [--input CxHxW (default: the images' own shape)] [--classes 10]

DATA_DIR holds train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz): IDX files,
images of magic 2051 (count, rows, cols; one channel) or 2052 (count, channels, rows, cols),
as convlens writes them. Needs: pip install torch numpy (CPU is enough).
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                return f.read()
    raise FileNotFoundError(path)


def parse_idx(data, path):
    """The dimensions and the uint8 content of IDX bytes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    ndims = data[3]
    dims = struct.unpack(f">{ndims}I", data[4:4 + 4 * ndims])
    content = np.frombuffer(data, np.uint8, offset=4 + 4 * ndims)
    if content.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: {content.size} bytes of data for dimensions {dims}")
    return dims, content


def output_size(n, kernel, padding=0, stride=1):
    return (n + 2 * padding - kernel) // stride + 1


def conv3_side(size):
    """conv3's output side for a square input, as NetConfig computes it."""
    s = output_size(size, 3, padding=3)  # conv1
    s = output_size(s, 2, stride=2)  # maxp1
    s = output_size(s, 5)  # conv2
    s = output_size(s, 2, stride=2)  # maxp2
    s = output_size(s, 6)  # conv3
    if s <= 0:
        raise SystemExit(f"input size {size}: nothing left after conv3 (28 is the smallest)")
    return s


def reference_model(in_channels=1, size=28, classes=10):
    side = conv3_side(size)
    return nn.Sequential(
        nn.Conv2d(in_channels, 3, 3, padding=3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 110, 6), nn.ReLU(), nn.Flatten(),
        nn.Linear(110 * side * side, 60), nn.ReLU(), nn.Linear(60, classes),
    )


def parse_shape(text):
    try:
        c, h, w = (int(d) for d in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--input {text}: expected CxHxW, e.g. 3x32x32")
    return c, h, w


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data_dir")
    p.add_argument("--images", type=int, default=16000)
    p.add_argument("--batch-sizes", default="16,64")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--warmup-batches", type=int, default=20)
    p.add_argument("--input", default=None, help="CxHxW the images must have")
    p.add_argument("--classes", type=int, default=10)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    images_path = os.path.join(a.data_dir, "train-images-idx3-ubyte")
    labels_path = os.path.join(a.data_dir, "train-labels-idx1-ubyte")
    dims, images = parse_idx(read_idx(images_path), images_path)
    (count,), labels = parse_idx(read_idx(labels_path), labels_path)
    if len(dims) == 3:
        shape = (1, dims[1], dims[2])
    elif len(dims) == 4:
        shape = tuple(dims[1:])
    else:
        raise SystemExit(f"{images_path}: {len(dims)} dimensions, expected 3 or 4")
    if a.input is not None and parse_shape(a.input) != shape:
        raise SystemExit(f"--input {a.input}, but the images are {'x'.join(map(str, shape))}")
    c, h, w = shape
    if h != w:
        raise SystemExit(f"images of {h}x{w}: the network takes square images")
    if labels.size and int(labels.max()) >= a.classes:
        raise SystemExit(f"label {int(labels.max())} with --classes {a.classes}")
    n = min(a.images, count, dims[0])
    per = c * h * w
    x = torch.tensor(images[: n * per].reshape(n, c, h, w), dtype=torch.float32) / 255.0
    y = torch.tensor(labels[:n], dtype=torch.long)
    for bs in [int(b) for b in a.batch_sizes.split(",")]:
        torch.manual_seed(13)
        model = reference_model(c, h, a.classes)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()
        batches = n // bs

        def step(b):
            loss = loss_fn(model(x[b * bs:(b + 1) * bs]), y[b * bs:(b + 1) * bs])
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss.item()

        for b in range(min(a.warmup_batches, batches)):
            step(b)
        start = time.perf_counter()
        total = 0.0
        for b in range(batches):
            total += step(b)
        seconds = time.perf_counter() - start
        print(json.dumps({
            "framework": "pytorch", "version": torch.__version__, "batch_size": bs,
            "images": batches * bs, "seconds": round(seconds, 4),
            "images_per_s": round(batches * bs / seconds, 1),
            "threads": torch.get_num_threads(), "mean_loss": round(total / batches, 5),
        }), flush=True)


if __name__ == "__main__":
    main()
