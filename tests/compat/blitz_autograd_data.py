"""The 60-minute blitz's autograd tutorial and the older ``.data`` idioms a course still meets.

``y.data.norm()`` (the blitz's vector-Jacobian example), a hand-written SGD loop that updates
``p.data`` as code from before ``torch.no_grad`` did, ``torch.max(outputs.data, 1)`` to score
predictions, and ``.data`` zeroed, copied into and read as NumPy. Every write through ``.data`` is
behind autograd's back, as the old tutorials intend.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from corpus_io import report, share_initial_state

# The blitz: a vector-Jacobian product. y is doubled until its norm passes 1000.
x = torch.tensor([0.5, -1.25, 2.0], requires_grad=True)
y = x * 2
while y.data.norm() < 1000:
    y = y * 2
print(y)
v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
y.backward(v)
print(x.grad)
print(x.requires_grad, (x**2).requires_grad)
with torch.no_grad():
    print((x**2).requires_grad)
print(x.data.requires_grad, x.data.is_leaf, x.data.grad_fn is None)


# A small classifier trained by a hand-written SGD step on p.data, as code from before no_grad did.
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


rng = np.random.default_rng(0)
inputs = torch.from_numpy(rng.standard_normal((32, 8)).astype(np.float32))
labels = torch.from_numpy(rng.integers(0, 4, 32))
net = Net()
share_initial_state(net)
learning_rate = 0.1
losses = []
for step in range(20):
    net.zero_grad()
    outputs = net(inputs)
    loss = F.cross_entropy(outputs, labels)
    loss.backward()
    for p in net.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    losses.append(loss.item())

outputs = net(inputs)
_, predicted = torch.max(outputs.data, 1)
correct = (predicted == labels).sum().item()
print(f"training accuracy: {100 * correct / labels.size(0):.1f} %")

# .data as a plain tensor: a snapshot read as NumPy, a copy into, a reset.
snapshot = net.fc2.bias.data.numpy().copy()
net.fc2.bias.data.zero_()
zeroed = net.fc2.bias.data.clone()
net.fc2.bias.data.copy_(torch.from_numpy(snapshot))
scale = net.fc1.weight.data.abs().max().item()

# Swapping in new storage with x.data = t (any shape), as weight-surgery code does.
w = torch.ones(3, requires_grad=True)
w.data = torch.zeros(5)
print(w.shape, w.requires_grad)

report(
    y=y.detach().numpy(),
    x_grad=x.grad.numpy(),
    losses=losses,
    correct=correct,
    predicted=predicted.numpy(),
    snapshot=snapshot,
    zeroed=zeroed.numpy(),
    restored=net.fc2.bias.detach().numpy(),
    scale=scale,
    swapped=[list(w.shape), w.requires_grad, w.sum().item()],
)
