"""Reference logits of torchvision's resnet18 for the tfjs weight-import test.

Builds torchvision.models.resnet18 itself (torchvision 0.14, Debian's python3-torchvision;
weights=None, nothing is downloaded), with torchvision's own initialisation, random BatchNorm
weight and bias, and BatchNorm running statistics taken from a real forward pass and then
perturbed (see reference_tools.calibrate_batch_norm), so that the eval-mode logits depend on
every convolution, padding and statistic. For CHANNELS != 3 the stem convolution is replaced by
the same Conv2d with CHANNELS inputs. Writes into OUT_DIR:
  weights.safetensors  the state_dict, torchvision names, F32 (+ I64 num_batches_tracked)
  input.safetensors    'input': BATCH random images (NCHW), different from the calibration batch
  logits.safetensors   'logits': model(input) in eval mode, [BATCH, NUM_CLASSES]
and prints one JSON line with the parameter count and the torch / torchvision versions.

Usage: python3 torch_resnet18_reference.py OUT_DIR NUM_CLASSES CHANNELS HEIGHT WIDTH BATCH SEED
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision

from reference_tools import calibrate_batch_norm, randomize_batch_norm_affine, save_safetensors

CALIBRATION_BATCH = 8


def main():
    out_dir = sys.argv[1]
    num_classes, channels, height, width, batch, seed = (int(v) for v in sys.argv[2:8])
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    if channels != 3:
        model.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    randomize_batch_norm_affine(model)
    calibrate_batch_norm(model, torch.randn(CALIBRATION_BATCH, channels, height, width))
    inputs = torch.randn(batch, channels, height, width)
    with torch.no_grad():
        logits = model(inputs)
    save_safetensors(f"{out_dir}/weights.safetensors", model.state_dict())
    save_safetensors(f"{out_dir}/input.safetensors", {"input": inputs})
    save_safetensors(f"{out_dir}/logits.safetensors", {"logits": logits})
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"parameters": params, "torch": torch.__version__, "torchvision": torchvision.__version__}))


if __name__ == "__main__":
    main()
