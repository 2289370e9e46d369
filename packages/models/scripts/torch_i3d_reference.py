"""Reference logits of the PyTorch InceptionI3d (piergiaj/pytorch-i3d topology) for the tfjs import test.

Builds the InceptionI3d topology in plain PyTorch: Unit3D = Conv3d (no bias) + BatchNorm3d(eps 1e-3,
momentum 0.01) + ReLU with TensorFlow-SAME padding computed from the input size, max pools that
zero-pad to SAME before pooling, inception modules b0 / b1a→b1b / b2a→b2b / b3a(max pool)→b3b,
then AvgPool3d([2, 7, 7], stride 1) → Dropout → 1×1×1 logits Conv3d with bias → mean over time.
(For inputs below 193×193 or 9 frames the pool window is clipped to the feature map, as the tfjs
model does; at the port's sizes it is exactly [2, 7, 7].) Random weights and random BatchNorm
running statistics, eval mode. Writes into OUT_DIR:
  weights.safetensors  the state_dict with the port's names, F32 (+ I64 num_batches_tracked)
  input.safetensors    'input': a fixed random batch, NCDHW
  logits.safetensors   'logits': [batch, classes]
and prints one JSON line with the parameter count.

Usage: python3 torch_i3d_reference.py OUT_DIR NUM_CLASSES CHANNELS FRAMES HEIGHT WIDTH BATCH SEED
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def same_padding(size, kernel, stride):
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def pad_same(x, kernel, stride):
    (t0, t1), (h0, h1), (w0, w1) = (same_padding(n, k, s) for n, k, s in zip(x.shape[2:], kernel, stride))
    return F.pad(x, (w0, w1, h0, h1, t0, t1))


class Unit3D(nn.Module):
    def __init__(self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), batch_norm=True, relu=True, bias=False):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01) if batch_norm else None

    def forward(self, x):
        x = self.conv3d(pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPoolSame(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x):
        return F.max_pool3d(pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


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
        x = self.logits(self.dropout(x))
        return x.flatten(2).mean(2)


def save_safetensors(path, tensors):
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": dtypes[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def main():
    out_dir = sys.argv[1]
    num_classes, channels, frames, height, width, batch, seed = (int(v) for v in sys.argv[2:9])
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    model = InceptionI3d(num_classes, channels)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(7)
    model.eval()
    inputs = torch.rand(batch, channels, frames, height, width) * 2 - 1
    with torch.no_grad():
        logits = model(inputs)
    save_safetensors(f"{out_dir}/weights.safetensors", model.state_dict())
    save_safetensors(f"{out_dir}/input.safetensors", {"input": inputs})
    save_safetensors(f"{out_dir}/logits.safetensors", {"logits": logits})
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"parameters": params, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
