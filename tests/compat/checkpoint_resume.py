"""Save a checkpoint (torch.save of state_dicts), resume from it in a fresh model, and compare with an unbroken run."""

import copy
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from corpus_io import report, share_initial_state
from torch.optim.lr_scheduler import StepLR

rng = np.random.default_rng(4)
X = torch.from_numpy(rng.standard_normal((32, 10)).astype(np.float32))
y = torch.from_numpy(rng.integers(0, 3, 32))


def make():
    model = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def train_epoch(model, optimizer, scheduler):
    model.train()
    for i in range(0, 32, 8):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X[i : i + 8]), y[i : i + 8])
        loss.backward()
        optimizer.step()
    scheduler.step()
    return loss.item()


model, optimizer, scheduler = make()
share_initial_state(model)
initial = copy.deepcopy(model.state_dict())
unbroken = [train_epoch(model, optimizer, scheduler) for epoch in range(4)]

# The same run, interrupted after epoch 2 and resumed from a checkpoint.
model, optimizer, scheduler = make()
model.load_state_dict(initial)
resumed = [train_epoch(model, optimizer, scheduler) for epoch in range(2)]
path = os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
torch.save(
    {
        "epoch": 2,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": scheduler.state_dict(),
        "loss": resumed[-1],
    },
    path,
)
del model, optimizer, scheduler

model, optimizer, scheduler = make()
checkpoint = torch.load(path)
model.load_state_dict(checkpoint["model_state_dict"])
optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
start_epoch = checkpoint["epoch"]
resumed += [train_epoch(model, optimizer, scheduler) for epoch in range(start_epoch, 4)]
print("unbroken", unbroken, "resumed", resumed)
report(
    unbroken=unbroken,
    resumed=resumed,
    lr=optimizer.param_groups[0]["lr"],
    running_mean=model[1].running_mean.tolist(),
)
