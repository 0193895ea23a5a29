"""Loads a seed weights file into a PyTorch model of the same layers and writes its logits.

usage: load_in_pytorch.py WEIGHTS.safetensors INPUTS.f32 COUNT OUT.f32
Reads the safetensors container by hand (8-byte little-endian header length, JSON header, raw data) so that only
torch is needed, loads it with load_state_dict(strict=True), runs both heads and writes [COUNT, 10 + 4] float32.
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn


class Seed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3)
        self.fc1 = nn.Linear(5408, 64)
        self.fc2 = nn.Linear(64, 10)
        self.rot = nn.Linear(64, 4)

    def forward(self, x):
        h = torch.flatten(F.max_pool2d(F.relu(self.conv(x)), 2), 1)
        h = F.relu(self.fc1(h))
        return self.fc2(h), self.rot(h)


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (length,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop('__metadata__', {})
    body = data[8 + length:]
    tensors = {}
    for name, info in header.items():
        assert info['dtype'] == 'F32', f'{name}: dtype {info["dtype"]}'
        start, end = info['data_offsets']
        tensors[name] = torch.frombuffer(bytearray(body[start:end]), dtype=torch.float32).reshape(info['shape'])
    return tensors, metadata


def main():
    weights, inputs, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tensors, metadata = read_safetensors(weights)
    model = Seed()
    model.load_state_dict(tensors, strict=True)
    with open(inputs, 'rb') as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(count, 1, 28, 28)
    with torch.no_grad():
        policy, rotation = model(x)
    with open(out, 'wb') as f:
        f.write(torch.cat([policy, rotation], 1).contiguous().numpy().astype('<f4').tobytes())
    print(json.dumps({'torch': torch.__version__, 'version': metadata.get('version'), 'tensors': sorted(tensors)}))


if __name__ == '__main__':
    main()
