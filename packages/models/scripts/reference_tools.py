"""Helpers shared by the reference scripts: safetensors output and realistic BatchNorm statistics.

Plain torch only (the safetensors files are written with struct + json, no extra package).
"""
import json
import struct

import torch
import torch.nn as nn


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


def randomize_batch_norm_affine(model):
    """BatchNorm weight and bias away from 1 and 0, so that a swapped or missing γ/β shows."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)


def calibrate_batch_norm(model, calibration_input, perturbation=0.2):
    """Running statistics that an eval-mode network actually depends on.

    Random running statistics (mean ≈ 0, var ≈ 1) do not match the activations of a deep
    network: the signal then vanishes or explodes and the logits hardly depend on the input or
    on the convolutions (on I3D, two inputs gave logits within 1e-6 of each other). Instead, one
    train-mode pass over `calibration_input` with a cumulative average (momentum None) sets every
    running mean and var to that batch's statistics, layer after layer; then each is perturbed
    (mean shifted by N(0, perturbation²)·std, var scaled by exp(N(0, perturbation²))), so that
    eval mode is not batch normalisation of the test inputs in disguise.
    """
    batch_norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in batch_norms]
    for module in batch_norms:
        module.reset_running_stats()
        module.momentum = None
    model.train()
    with torch.no_grad():
        model(calibration_input)
        for module, momentum in zip(batch_norms, momenta):
            module.momentum = momentum
            std = module.running_var.sqrt()
            module.running_mean.add_(torch.randn_like(std) * perturbation * std)
            module.running_var.mul_(torch.exp(torch.randn_like(std) * perturbation))
            module.num_batches_tracked.fill_(7)
    model.eval()
