"""Course-style training script: a train/validation split by samplers, a best-epoch snapshot, a saved and reloaded model.

What it exercises, as tutorials write it: ``torchvision.transforms.ToTensor`` on an HWC image,
``torch.backends.mps.is_available()`` in the device choice, ``DataLoader(sampler=...)`` and
``DataLoader(batch_sampler=...)``, ``SubsetRandomSampler`` (an order-free validation sum),
``WeightedRandomSampler`` lengths, ``copy.deepcopy(model.state_dict())`` as the best snapshot,
``{k: v.clone()}`` and ``torch.equal``/``allclose`` on state_dict values, ``torch.save`` /
``torch.load(weights_only=True, map_location=device)``, and ``load_state_dict`` into lazy layers.
"""

import copy
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as transforms
from corpus_io import report, share_initial_state
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

if torch.cuda.is_available():
    device = torch.device("cuda")
elif torch.backends.mps.is_available():
    device = torch.device("mps")
else:
    device = torch.device("cpu")

rng = np.random.default_rng(7)
images = rng.integers(
    0, 256, (40, 8, 8, 3), dtype=np.uint8
)  # as read from files: height, width, channels
to_input = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))]
)
x = torch.stack([torch.as_tensor(to_input(image)) for image in images])
y = torch.from_numpy(rng.integers(0, 4, 40))
dataset = TensorDataset(x, y)
sample, label = dataset[3]
assert isinstance(sample, torch.Tensor) and sample.shape == (3, 8, 8) and label.dim() == 0

train_idx, val_idx = list(range(0, 30)), list(range(30, 40))
train_loader = DataLoader(
    dataset, batch_size=6, sampler=train_idx
)  # a list is a sampler: this order
val_loader = DataLoader(dataset, batch_sampler=BatchSampler(val_idx, batch_size=4, drop_last=False))
shuffled_val = DataLoader(dataset, batch_size=3, sampler=SubsetRandomSampler(val_idx))
weighted = DataLoader(
    dataset, batch_size=5, sampler=WeightedRandomSampler([1.0] * 40, num_samples=15)
)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6 * 4 * 4, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


model = Net().to(device)
share_initial_state(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def evaluate(loader):
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            outputs = model(inputs.to(device))
            total += F.cross_entropy(outputs, targets.to(device), reduction="sum").item()
            correct += (outputs.argmax(1) == targets.to(device)).sum().item()
    return total, correct


best_loss, best_state, history = float("inf"), None, []
for epoch in range(3):
    model.train()
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs.to(device)), targets.to(device))
        loss.backward()
        optimizer.step()
    val_loss, val_correct = evaluate(val_loader)
    history.append(val_loss)
    if val_loss < best_loss:
        best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())

live = model.state_dict()  # shares storage with the model: it follows training
cloned = {key: value.clone() for key, value in live.items()}
shuffled_loss, _ = evaluate(shuffled_val)  # same samples, another order: the same sum
model.load_state_dict(best_state)
restored_loss, restored_correct = evaluate(val_loader)
same_as_best = all(torch.equal(best_state[k], v) for k, v in model.state_dict().items())
close_to_last = all(torch.allclose(cloned[k].float(), v.float()) for k, v in live.items())

path = os.path.join(tempfile.mkdtemp(), "best.pt")
torch.save(model.state_dict(), path)
lazy = nn.Sequential(
    nn.LazyConv2d(6, 3, padding=1),
    nn.LazyBatchNorm2d(),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.LazyLinear(4),
)
state = torch.load(path, weights_only=True, map_location=device)
lazy.load_state_dict(
    {
        "0." + k[5:]
        if k.startswith("conv.")
        else "1." + k[3:]
        if k.startswith("bn.")
        else "5." + k[3:]: v
        for k, v in state.items()
    }
)
lazy.eval()
with torch.no_grad():
    lazy_out = lazy(x[30:34].to(device))
    model_out = model(x[30:34].to(device))
print("history", history, "restored", restored_loss)
report(
    history=history,
    best_loss=best_loss,
    restored_loss=restored_loss,
    restored_correct=restored_correct,
    shuffled_minus_ordered=shuffled_loss - history[-1],
    same_as_best=same_as_best,
    close_to_last=close_to_last,
    lazy_matches_model=bool(torch.allclose(lazy_out, model_out, atol=1e-6)),
    lazy_in_features=lazy[5].in_features,
    batches=[len(train_loader), len(val_loader), len(shuffled_val), len(weighted)],
    weighted_batch_sizes=[len(batch[1]) for batch in weighted],
    device=str(device),
)
