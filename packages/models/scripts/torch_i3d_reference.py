"""Reference logits of the PyTorch InceptionI3d (piergiaj/pytorch-i3d) for the tfjs import test.

The port itself is not installable, so this is our own plain-PyTorch re-write of its layout:
Unit3D = Conv3d (no bias) + BatchNorm3d(eps 1e-3, momentum 0.01) + ReLU with TensorFlow-SAME
padding computed from the input size, max pools that zero-pad to SAME before pooling,
inception modules b0 / b1a→b1b / b2a→b2b / b3a(max pool)→b3b concatenated in that order, then
AvgPool3d([2, 7, 7], stride 1) → Dropout → 1×1×1 logits Conv3d with bias, whose output
[batch, classes, time, h, w] is what the port's forward squeezes ([batch, classes, time] when
h = w = 1, i.e. inputs up to 224 px; the port averages over time only in its callers). For
inputs below 193×193 or 9 frames the pool window is clipped to the feature map, as the tfjs
model does (the port's AvgPool3d would raise there).

Weights are made to matter: kaiming-normal convolutions (the logits keep PyTorch's default) with
a random logits bias, random BatchNorm weight and bias, and running statistics from a real
forward pass, then perturbed (reference_tools.calibrate_batch_norm); BATCH different inputs;
eval mode. Writes into OUT_DIR:
  weights.safetensors  the state_dict with the port's names, F32 (+ I64 num_batches_tracked)
  input.safetensors    'input': BATCH random clips, NCDHW
  logits.safetensors   'logits': [batch, classes], the mean over time and space (the tfjs default)
                       'per_position': [batch, classes, time, h, w], the logits convolution's output
                       'logits_padding_flipped': [batch, classes], a control: the same network with
                       every odd SAME padding's extra row put first instead of last
and prints one JSON line with the parameter count.

Usage: python3 torch_i3d_reference.py OUT_DIR NUM_CLASSES CHANNELS FRAMES HEIGHT WIDTH BATCH SEED
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_tools import calibrate_batch_norm, randomize_batch_norm_affine, save_safetensors

# Clips in the BatchNorm calibration batch: enough for ≥ 32 values per channel at Mixed_5c (a
# 64-px clip leaves a 1×2×2 map there, and two clips gave running variances of 1e-5 whose
# 1/√(var + eps) made the logits ill-conditioned).
CALIBRATION_VALUES = 32


def same_padding(size, kernel, stride):
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def pad_same(x, kernel, stride, extra_first=False):
    pads = [same_padding(n, k, s) for n, k, s in zip(x.shape[2:], kernel, stride)]
    if extra_first:
        pads = [(after, before) for before, after in pads]
    (t0, t1), (h0, h1), (w0, w1) = pads
    return F.pad(x, (w0, w1, h0, h1, t0, t1))


class Unit3D(nn.Module):
    def __init__(self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), batch_norm=True, relu=True, bias=False):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.extra_first = False
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01) if batch_norm else None

    def forward(self, x):
        x = self.conv3d(pad_same(x, self.kernel, self.stride, self.extra_first))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPoolSame(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.extra_first = False

    def forward(self, x):
        return F.max_pool3d(pad_same(x, self.kernel, self.stride, self.extra_first), self.kernel, self.stride)


class Inception(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a = Unit3D(cin, c[1])
        self.b1b = Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a = Unit3D(cin, c[3])
        self.b2b = Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(cin, c[5])

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


INCEPTION = {
    "Mixed_3b": (192, [64, 96, 128, 16, 32, 32]),
    "Mixed_3c": (256, [128, 128, 192, 32, 96, 64]),
    "Mixed_4b": (480, [192, 96, 208, 16, 48, 64]),
    "Mixed_4c": (512, [160, 112, 224, 24, 64, 64]),
    "Mixed_4d": (512, [128, 128, 256, 24, 64, 64]),
    "Mixed_4e": (512, [112, 144, 288, 32, 64, 64]),
    "Mixed_4f": (528, [256, 160, 320, 32, 128, 128]),
    "Mixed_5b": (832, [256, 160, 320, 32, 128, 128]),
    "Mixed_5c": (832, [384, 192, 384, 48, 128, 128]),
}


class InceptionI3d(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.end_points = []

        def add(name, module):
            self.add_module(name, module)
            self.end_points.append(name)

        add("Conv3d_1a_7x7", Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2)))
        add("MaxPool3d_2a_3x3", MaxPoolSame((1, 3, 3), (1, 2, 2)))
        add("Conv3d_2b_1x1", Unit3D(64, 64))
        add("Conv3d_2c_3x3", Unit3D(64, 192, (3, 3, 3)))
        add("MaxPool3d_3a_3x3", MaxPoolSame((1, 3, 3), (1, 2, 2)))
        for name in ["Mixed_3b", "Mixed_3c"]:
            add(name, Inception(*INCEPTION[name]))
        add("MaxPool3d_4a_3x3", MaxPoolSame((3, 3, 3), (2, 2, 2)))
        for name in ["Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"]:
            add(name, Inception(*INCEPTION[name]))
        add("MaxPool3d_5a_2x2", MaxPoolSame((2, 2, 2), (2, 2, 2)))
        for name in ["Mixed_5b", "Mixed_5c"]:
            add(name, Inception(*INCEPTION[name]))
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)

    def forward(self, x):
        for name in self.end_points:
            x = getattr(self, name)(x)
        t, h, w = x.shape[2:]
        x = F.avg_pool3d(x, (min(2, t), min(7, h), min(7, w)), stride=1)
        return self.logits(self.dropout(x))


def main():
    out_dir = sys.argv[1]
    num_classes, channels, frames, height, width, batch, seed = (int(v) for v in sys.argv[2:9])
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    model = InceptionI3d(num_classes, channels)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, Unit3D) and module.bn is not None:
                nn.init.kaiming_normal_(module.conv3d.weight, mode="fan_in", nonlinearity="relu")
        model.logits.conv3d.bias.normal_(0.0, 0.5)
    randomize_batch_norm_affine(model)
    deepest_map = math.ceil(frames / 8) * math.ceil(height / 32) * math.ceil(width / 32)
    calibration_batch = math.ceil(CALIBRATION_VALUES / deepest_map)
    calibrate_batch_norm(model, torch.rand(calibration_batch, channels, frames, height, width) * 2 - 1)
    inputs = torch.rand(batch, channels, frames, height, width) * 2 - 1
    with torch.no_grad():
        per_position = model(inputs)
        for module in model.modules():
            if hasattr(module, "extra_first"):
                module.extra_first = True
        padding_flipped = model(inputs).mean((2, 3, 4))
    save_safetensors(f"{out_dir}/weights.safetensors", model.state_dict())
    save_safetensors(f"{out_dir}/input.safetensors", {"input": inputs})
    save_safetensors(
        f"{out_dir}/logits.safetensors",
        {"logits": per_position.mean((2, 3, 4)), "per_position": per_position, "logits_padding_flipped": padding_flipped},
    )
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"parameters": params, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
