"""A custom Dataset read by a DataLoader with worker processes (the usual training-script setup)."""

import numpy as np
import torch
import torch.nn as nn
from corpus_io import report, share_initial_state
from torch.utils.data import DataLoader, Dataset, Subset, random_split


class NoisySines(Dataset):
    """Each sample made on the fly in __getitem__, as image datasets decode and augment there."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        rng = np.random.default_rng(idx)  # per-sample seed: the same sample in every worker
        freq = idx % 4 + 1
        t = np.linspace(0, 1, 16, dtype=np.float32)
        signal = np.sin(2 * np.pi * freq * t) + 0.1 * rng.standard_normal(16).astype(np.float32)
        return torch.from_numpy(signal.astype(np.float32)), idx % 4


dataset = NoisySines(72)
train_set = Subset(dataset, list(range(64)))
loader = DataLoader(
    train_set,
    batch_size=8,
    shuffle=False,
    num_workers=2,
    pin_memory=True,
    drop_last=True,
    persistent_workers=True,
)
serial = DataLoader(train_set, batch_size=8, shuffle=False, num_workers=0, drop_last=True)
same = all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(loader, serial))

model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
share_initial_state(model)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
losses = []
for epoch in range(3):
    total = 0.0
    for signals, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(signals), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * signals.size(0)
    losses.append(total / len(loader.dataset))

parts = random_split(dataset, [60, 12])
report(
    losses=losses, same_batches_as_serial=same, batches=len(loader), split=[len(p) for p in parts]
)
