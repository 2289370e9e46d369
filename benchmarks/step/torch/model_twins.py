#!/usr/bin/env python3
"""PyTorch CPU twins of the two large networks of @mm/models, for side-by-side timing of one
training step with the library's BalancedTrainer.step (`pnpm --filter @mm/bench-step compare
--models` runs both alternately and reports medians as ratios; absolute times on a shared
machine are not stable).

Setup once (Debian):  apt-get install -y python3-torch python3-torchvision
Usage:  /usr/bin/python3 benchmarks/step/torch/model_twins.py --model resnet18|i3d
            [--batch 8|2] [--steps 5] [--warmup 2] [--threads 2]

resnet18 (`fusedResNet18`, examples/modelnet40): two torchvision ResNet18 branches (one per
  view, 3x64x64 each, 40 classes), MMTM(ratio 4, gate 2*sigmoid) after layer2, layer3, layer4;
  plain SGD lr 0.1 without momentum.
i3d (`fusedI3D`, examples/nvgesture): two InceptionI3d branches (RGB 3x8x64x64, depth
  1x8x64x64, 25 classes) with TF-SAME padding, BatchNorm3d(eps 1e-3, momentum 0.01), the head's
  AvgPool3d window clipped to the map, dropout 0.5, logits averaged over the remaining positions;
  MMTM after Mixed_4c, 4d, 4e, 4f, 5b, 5c; SGD lr 0.01 momentum 0.9.
Both: loss = CE(head0) + CE(head1); every step also computes, per modality group,
sum ||grad||^2 / sum ||theta||^2 (the learning-speed bookkeeping of the library's vanilla step).
Prints the trainable parameter count (compared with the library's by compare --models), the
median step time and the median CPU time per step (all threads).
"""
import argparse, math
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from torch_twin import MMTM, time_steps


# ---- ResNet18, two views -------------------------------------------------------------------

class FusedResNet18(nn.Module):
    def __init__(self, classes=40):
        super().__init__()
        self.branches = nn.ModuleList(torchvision.models.resnet18(num_classes=classes) for _ in range(2))
        self.fusions = nn.ModuleDict({name: MMTM(c, c) for name, c in (("layer2", 128), ("layer3", 256), ("layer4", 512))})

    def forward(self, x0, x1):
        b0, b1 = self.branches
        a0 = b0.maxpool(b0.relu(b0.bn1(b0.conv1(x0))))
        a1 = b1.maxpool(b1.relu(b1.bn1(b1.conv1(x1))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            a0, a1 = getattr(b0, name)(a0), getattr(b1, name)(a1)
            if name in self.fusions:
                a0, a1 = self.fusions[name](a0, a1)
        return b0.fc(torch.flatten(b0.avgpool(a0), 1)), b1.fc(torch.flatten(b1.avgpool(a1), 1))


# ---- InceptionI3d, RGB + depth -------------------------------------------------------------

def same_padding(size, kernel, stride):
    """TensorFlow's SAME padding of one axis: (before, after), the odd cell at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x, kernel, stride):
    pads = []
    for axis in (4, 3, 2):  # F.pad lists the last axis first: W, H, T
        pads += same_padding(x.shape[axis], kernel[axis - 2], stride[axis - 2])
    return F.pad(x, pads)


class Unit3D(nn.Module):
    def __init__(self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1)):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x):
        return F.relu(self.bn(self.conv3d(pad_same(x, self.kernel, self.stride))))


class MaxPoolSame(nn.Module):
    # Zero padding is exact here: every pool follows a ReLU.
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x):
        return F.max_pool3d(pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Inception(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        three = (3, 3, 3)
        self.b0 = Unit3D(cin, c[0])
        self.b1 = nn.Sequential(Unit3D(cin, c[1]), Unit3D(c[1], c[2], three))
        self.b2 = nn.Sequential(Unit3D(cin, c[3]), Unit3D(c[3], c[4], three))
        self.b3 = nn.Sequential(MaxPoolSame(three, (1, 1, 1)), Unit3D(cin, c[5]))
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], 1)


INCEPTION = {
    "Mixed_3b": [64, 96, 128, 16, 32, 32], "Mixed_3c": [128, 128, 192, 32, 96, 64],
    "Mixed_4b": [192, 96, 208, 16, 48, 64], "Mixed_4c": [160, 112, 224, 24, 64, 64],
    "Mixed_4d": [128, 128, 256, 24, 64, 64], "Mixed_4e": [112, 144, 288, 32, 64, 64],
    "Mixed_4f": [256, 160, 320, 32, 128, 128], "Mixed_5b": [256, 160, 320, 32, 128, 128],
    "Mixed_5c": [384, 192, 384, 48, 128, 128],
}
I3D_FUSION_POINTS = ("Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "Mixed_5b", "Mixed_5c")


def i3d_trunk(cin):
    """The end points Conv3d_1a_7x7 ... Mixed_5c, in order, with their output channels."""
    points = [("Conv3d_1a_7x7", Unit3D(cin, 64, (7, 7, 7), (2, 2, 2))),
              ("MaxPool3d_2a_3x3", MaxPoolSame((1, 3, 3), (1, 2, 2))),
              ("Conv3d_2b_1x1", Unit3D(64, 64)),
              ("Conv3d_2c_3x3", Unit3D(64, 192, (3, 3, 3))),
              ("MaxPool3d_3a_3x3", MaxPoolSame((1, 3, 3), (1, 2, 2)))]
    channels = 192
    for name in ("Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
                 "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c"):
        if name == "MaxPool3d_4a_3x3":
            points.append((name, MaxPoolSame((3, 3, 3), (2, 2, 2))))
        elif name == "MaxPool3d_5a_2x2":
            points.append((name, MaxPoolSame((2, 2, 2), (2, 2, 2))))
        else:
            block = Inception(channels, INCEPTION[name])
            channels = block.out_channels
            points.append((name, block))
    return nn.ModuleDict(points), channels


class I3DBranch(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.points, channels = i3d_trunk(cin)
        self.dropout = nn.Dropout(0.5)
        self.logits = nn.Conv3d(channels, classes, 1, bias=True)

    def head(self, x):
        window = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))
        x = self.logits(self.dropout(F.avg_pool3d(x, window, 1)))
        return x.mean((2, 3, 4))


class FusedI3D(nn.Module):
    def __init__(self, classes=25):
        super().__init__()
        self.branches = nn.ModuleList([I3DBranch(3, classes), I3DBranch(1, classes)])
        widths = {name: c[0] + c[2] + c[4] + c[5] for name, c in INCEPTION.items()}
        self.fusions = nn.ModuleDict({name: MMTM(widths[name], widths[name]) for name in I3D_FUSION_POINTS})

    def forward(self, x0, x1):
        b0, b1 = self.branches
        for name in b0.points:
            x0, x1 = b0.points[name](x0), b1.points[name](x1)
            if name in self.fusions:
                x0, x1 = self.fusions[name](x0, x1)
        return b0.head(x0), b1.head(x1)


# ---- the step ------------------------------------------------------------------------------

def speed_terms(net):
    """Per group sum ||grad||^2 / sum ||theta||^2: branch k, and fusion k (squeeze + excite k of every MMTM)."""
    out = {}
    for k in (0, 1):
        fusion = [p for f in net.fusions.values()
                  for p in list(f.squeeze.parameters()) + list(getattr(f, f"excite{k}").parameters())]
        for key, params in ((f"theta{k}", list(net.branches[k].parameters())), (f"fusion{k}", fusion)):
            g = sum(float((p.grad ** 2).sum()) for p in params)
            w = sum(float((p.detach() ** 2).sum()) for p in params)
            out[key] = g / w
    return out


MODELS = {
    # name: (constructor, per-sample input shapes NCHW / NCDHW, classes, optimizer, default batch)
    "resnet18": (FusedResNet18, [(3, 64, 64), (3, 64, 64)], 40,
                 lambda params: torch.optim.SGD(params, lr=0.1), 8),
    "i3d": (FusedI3D, [(3, 8, 64, 64), (1, 8, 64, 64)], 25,
            lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9), 2),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    build, shapes, classes, optimizer, default_batch = MODELS[args.model]
    batch = args.batch or default_batch
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    net = build(classes)
    opt = optimizer(net.parameters())
    x0, x1 = (torch.rand(batch, *shape) for shape in shapes)
    y = torch.randint(0, classes, (batch,))

    def step():
        y0, y1 = net(x0, x1)
        loss = F.cross_entropy(y0, y) + F.cross_entropy(y1, y)
        loss.backward()
        speed_terms(net)
        return loss

    params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__} model={args.model} threads={args.threads} batch={batch} params={params}")
    time_steps(step, opt, args.warmup, args.steps)


if __name__ == "__main__":
    main()
