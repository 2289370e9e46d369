"""Reference logits of torchvision's ResNet18 for the tfjs weight-import test.

Builds torchvision's resnet18 topology in plain PyTorch (torchvision itself is not needed),
gives it random weights and random BatchNorm running statistics (so that eval-mode BatchNorm
is exercised), and writes, into OUT_DIR:
  weights.safetensors  the state_dict, torchvision names, F32 (+ I64 num_batches_tracked)
  input.safetensors    'input': a fixed random batch, NCHW
  logits.safetensors   'logits': model(input) in eval mode
and prints one JSON line with the parameter count.

Usage: python3 torch_resnet18_reference.py OUT_DIR NUM_CLASSES CHANNELS HEIGHT WIDTH BATCH SEED
The safetensors files are written with struct + json only (no extra package).
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = [64, 128, 256, 512]
        previous = 64
        for index, width in enumerate(channels):
            stride = 1 if index == 0 else 2
            stage = nn.Sequential(BasicBlock(previous, width, stride), BasicBlock(width, width, 1))
            setattr(self, f"layer{index + 1}", stage)
            previous = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


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
    num_classes, channels, height, width, batch, seed = (int(v) for v in sys.argv[2:8])
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    model = ResNet18(num_classes, channels)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(7)
    model.eval()
    inputs = torch.randn(batch, channels, height, width)
    with torch.no_grad():
        logits = model(inputs)
    save_safetensors(f"{out_dir}/weights.safetensors", model.state_dict())
    save_safetensors(f"{out_dir}/input.safetensors", {"input": inputs})
    save_safetensors(f"{out_dir}/logits.safetensors", {"logits": logits})
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"parameters": params, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
