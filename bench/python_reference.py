#!/usr/bin/python3
"""The Python PyTorch twin of bench/engine_bench.cc, for a side-by-side comparison.

    /usr/bin/python3 bench/python_reference.py --arch pneumonet --input-size 224 --threads 2

Run it with Debian's /usr/bin/python3 (python3-torch 1.13): it then calls the very same
libtorch_cpu.so as the C++ binary, so the comparison isolates the host language.

The networks below mirror src/model/networks.cc layer for layer (same module names, same
parameter count, printed as "parameters"), and the timing protocol mirrors engine_bench.cc line
for line: 2 warm-up training steps, AdamW(lr=1e-3) on BCE-with-logits over one fixed random batch,
then eval() + no_grad() latency at batch 1 and 16, 3 warm-up passes, median of --repeats passes
(the upper median, as engine_bench.cc takes it). Prints one JSON object with the same keys,
"engine": "python-pytorch". If networks.cc changes, change this file with it.
"""

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def conv(cin, cout, kernel, stride):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)


class BasicBlock(nn.Module):
    """conv-bn-relu, conv-bn, plus a projected shortcut when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv(cin, cout, 3, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv(cout, cout, 3, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (stride here, as in ResNet v1.5), 1x1 expand by 4."""

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = conv(cin, width, 1, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv(width, width, 3, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv(width, width * 4, 1, 1)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.shortcut = None
        if stride != 1 or cin != width * 4:
            self.shortcut = nn.Sequential(conv(cin, width * 4, 1, stride), nn.BatchNorm2d(width * 4))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class BackboneNetwork(nn.Module):
    """Shared head: global average pooling, dropout, one logit."""

    def __init__(self, body, feature_channels, dropout):
        super().__init__()
        self.body = body
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_channels, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=0.0, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Zero-init the last BN of each residual branch, as networks.cc does.
        for module in self.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)
            if isinstance(module, Bottleneck):
                nn.init.zeros_(module.bn3.weight)

    def forward(self, x):
        features = self.body(x)
        pooled = F.adaptive_avg_pool2d(features, (1, 1)).flatten(1)
        return self.head(self.dropout(pooled)).squeeze(1)


def pneumonet(width):
    w = width
    stem = w // 2 + w // 4
    body = nn.Sequential(
        conv(1, stem, 5, 2), nn.BatchNorm2d(stem), nn.ReLU(),
        conv(stem, w, 3, 2), nn.BatchNorm2d(w), nn.ReLU(),
        BasicBlock(w, w, 1),
        BasicBlock(w, 2 * w, 2),
        BasicBlock(2 * w, 4 * w, 2),
        BasicBlock(4 * w, 8 * w, 2))
    return BackboneNetwork(body, 8 * w, dropout=0.2)


def resnet50():
    body = nn.Sequential(conv(1, 64, 7, 2), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.MaxPool2d(3, stride=2, padding=1))
    cin = 64
    for stage, blocks in enumerate([3, 4, 6, 3]):
        width = 64 << stage
        for b in range(blocks):
            body.append(Bottleneck(cin, width, 2 if (b == 0 and stage > 0) else 1))
            cin = width * 4
    return BackboneNetwork(body, cin, dropout=0.0)


def make_network(arch):
    if arch == "pneumonet":
        return pneumonet(32)
    if arch == "tiny":
        return pneumonet(4)
    if arch == "resnet50":
        return resnet50()
    return None


def upper_median(values):
    return sorted(values)[len(values) // 2]


def main():
    parser = argparse.ArgumentParser(description="engine benchmark, Python PyTorch reference")
    parser.add_argument("--arch", default="pneumonet")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    net = make_network(args.arch)
    if net is None:
        print(f"invalid argument: unknown architecture '{args.arch}' (known: pneumonet, resnet50, tiny)",
              file=sys.stderr)
        return 1
    parameters = sum(p.numel() for p in net.parameters())
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(args.train_batch, 1, args.input_size, args.input_size)
    y = torch.randint(0, 2, (args.train_batch,)).to(torch.float32)

    def train_step():
        loss = F.binary_cross_entropy_with_logits(net(x), y)
        optimizer.zero_grad(set_to_none=False)  # LibTorch 1.13's zero_grad() zeroes too
        loss.backward()
        optimizer.step()

    net.train()
    for _ in range(2):
        train_step()
    t0 = time.perf_counter()
    for _ in range(args.train_steps):
        train_step()
    train_ips = args.train_batch * args.train_steps / (time.perf_counter() - t0)

    net.eval()
    latency = {}
    with torch.no_grad():
        for batch in (1, 16):
            inputs = torch.randn(batch, 1, args.input_size, args.input_size)
            for _ in range(3):
                net(inputs)
            ms = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                net(inputs)
                ms.append((time.perf_counter() - t) * 1e3)
            latency[f"batch_{batch}_ms"] = upper_median(ms)

    out = {"engine": "python-pytorch", "arch": args.arch, "input_size": args.input_size,
           "threads": args.threads, "parameters": parameters,
           "train_images_per_second": train_ips, "inference": latency}
    # Sorted, compact keys: the same layout as nlohmann::json's dump() in engine_bench.cc.
    print(json.dumps(out, sort_keys=True, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
