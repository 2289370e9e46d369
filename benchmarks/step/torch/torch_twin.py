#!/usr/bin/env python3
"""PyTorch CPU twin of the Colored-and-gray-MNIST MMTM network (`cgMnistFusedNet` in
@mm/models), for side-by-side timing with bench:step.

`pnpm --filter @mm/bench-step compare` runs it alternately with bench:step on the same
machine and reports medians as ratios: shared machines are noisy, absolute times are not stable.

Setup once (Debian):  apt-get install -y python3-torch
Usage:  /usr/bin/python3 benchmarks/step/torch/torch_twin.py [--batch 128] [--steps 30] [--threads 2]
                                                             [--mode vanilla|rebalance|unimodal]
                                                             [--widths 16,32,64,128]

The network (both branches identical but for input channels: colored image 3, gray image 1):
  block1: conv3x3(16)  -> BN -> ReLU -> maxpool2   (28 -> 14)
  block2: conv3x3(32)  -> BN -> ReLU -> maxpool2   (14 -> 7)   -> MMTM(32, 32)
  block3: conv3x3(64)  -> BN -> ReLU               (7)         -> MMTM(64, 64)
  block4: conv3x3(128) -> BN -> ReLU               (7)         -> MMTM(128, 128)
  (--widths replaces 16,32,64,128, e.g. 8,16,32,64 for colored-mnist's reduced default settings)
  global average pool -> dense(10) per branch
  prediction = mean of the two heads' logits; loss = CE(head0) + CE(head1)
MMTM (ratio 4): squeeze = concat(GAP(A0), GAP(A1)) -> FC to 2*(C0+C1)/4 -> ReLU
  -> FC to C0 and FC to C1 -> gate = 2*sigmoid -> channel-wise product.
Optimizer: SGD lr 0.01 momentum 0.9. Each vanilla step also computes, per modality group,
sum ||grad||^2 / sum ||theta||^2 (the conditional-learning-speed bookkeeping), as the balancer
does on regular steps; re-balancing steps skip it, as the balancer does (Algorithm 1).
"""
import argparse, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class MMTM(nn.Module):
    def __init__(self, c0, c1, ratio=4):
        super().__init__()
        hidden = int(2 * (c0 + c1) / ratio)
        self.squeeze = nn.Linear(c0 + c1, hidden)
        self.excite0 = nn.Linear(hidden, c0)
        self.excite1 = nn.Linear(hidden, c1)
        self.avg_gate0 = None  # running mean of the gate, used by re-balancing steps

    def forward(self, a0, a1, rebalance=None):
        # Maps of any rank (N, C, ...): images here, clips in model_twins.py's I3D.
        spatial = tuple(range(2, a0.dim()))
        z = torch.cat([a0.mean(spatial), a1.mean(spatial)], 1)
        z = F.relu(self.squeeze(z))
        g0 = 2 * torch.sigmoid(self.excite0(z))
        g1 = 2 * torch.sigmoid(self.excite1(z))
        if rebalance == 0:
            g0 = g0.mean(0, keepdim=True).detach().expand_as(g0)
        elif rebalance == 1:
            g1 = g1.mean(0, keepdim=True).detach().expand_as(g1)
        trailing = (1,) * len(spatial)  # gates broadcast over the spatial axes
        return a0 * g0.reshape(*g0.shape, *trailing), a1 * g1.reshape(*g1.shape, *trailing)


def block(cin, cout, pool):
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Branch(nn.Module):
    def __init__(self, cin, widths=(16, 32, 64, 128), classes=10):
        super().__init__()
        self.b1 = block(cin, widths[0], True)
        self.b2 = block(widths[0], widths[1], True)
        self.b3 = block(widths[1], widths[2], False)
        self.b4 = block(widths[2], widths[3], False)
        self.head = nn.Linear(widths[3], classes)


class Net(nn.Module):
    def __init__(self, widths=(16, 32, 64, 128), fused=True):
        super().__init__()
        self.m0 = Branch(3, widths)
        self.m1 = Branch(1, widths)
        self.fused = fused
        self.f2 = MMTM(widths[1], widths[1])
        self.f3 = MMTM(widths[2], widths[2])
        self.f4 = MMTM(widths[3], widths[3])

    def forward(self, x0, x1, rebalance=None):
        a0, a1 = self.m0.b1(x0), self.m1.b1(x1)
        for name, fuse in (("b2", self.f2), ("b3", self.f3), ("b4", self.f4)):
            a0, a1 = getattr(self.m0, name)(a0), getattr(self.m1, name)(a1)
            if self.fused:
                a0, a1 = fuse(a0, a1, rebalance)
        y0 = self.m0.head(a0.mean((2, 3)))
        y1 = self.m1.head(a1.mean((2, 3)))
        return y0, y1


def speed_terms(net):
    groups = {"theta0": [net.m0], "theta1": [net.m1],
              "fusion0": [], "fusion1": []}
    out = {}
    for key, mods in groups.items():
        params = [p for m in mods for p in m.parameters()]
        if key.startswith("fusion"):
            i = key[-1]
            params = [p for f in (net.f2, net.f3, net.f4)
                      for p in list(f.squeeze.parameters()) + list(getattr(f, "excite" + i).parameters())]
        g = sum(float((p.grad ** 2).sum()) for p in params)
        w = sum(float((p.detach() ** 2).sum()) for p in params)
        out[key] = g / w
    return out


def widths_arg(value):
    try:
        widths = tuple(int(part) for part in value.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"needs four positive integers (channels of blocks 1-4), e.g. 8,16,32,64; got {value}")
    return widths


def time_steps(step, opt, warmup, steps):
    """Runs warmup + steps training steps (zero_grad, `step()` = forward, backward and
    bookkeeping returning the loss, the optimizer update) and prints the medians the
    benchmarks read: wall ms, and CPU ms of all threads, which other jobs on a shared machine
    distort far less than wall time."""
    times, cpu_times = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = step()
        opt.step()
        float(loss)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
            cpu_times.append((time.process_time() - c0) * 1000)
    print(f"step ms: median {statistics.median(times):.1f}  min {min(times):.1f}  max {max(times):.1f}")
    print(f"cpu ms per step (all threads): median {statistics.median(cpu_times):.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["vanilla", "rebalance", "unimodal"], default="vanilla")
    ap.add_argument("--widths", type=widths_arg, default=(16, 32, 64, 128))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    net = Net(widths=args.widths, fused=args.mode != "unimodal")
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x0 = torch.rand(args.batch, 3, 28, 28)
    x1 = torch.rand(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))

    def step():
        y0, y1 = net(x0, x1, rebalance=0 if args.mode == "rebalance" else None)
        loss = F.cross_entropy(y0, y) + F.cross_entropy(y1, y)
        loss.backward()
        if args.mode == "vanilla":
            speed_terms(net)
        return loss

    params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__} threads={args.threads} batch={args.batch} mode={args.mode} widths={','.join(map(str, args.widths))} params={params}")
    time_steps(step, opt, args.warmup, args.steps)


if __name__ == "__main__":
    main()
