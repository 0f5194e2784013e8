"""A d2l.ai-style chapter (LeNet, 7.6): lazy layers, a dry run, xavier init, a train loop, accuracy."""

import numpy as np
import torch
from corpus_io import report, share_initial_state
from torch import nn
from torch.nn import functional as F


def init_cnn(module):  # @save
    """Initialize weights for CNNs."""
    if type(module) == nn.Linear or type(module) == nn.Conv2d:  # noqa: E721
        nn.init.xavier_uniform_(module.weight)


class LeNet(nn.Module):  # @save
    """The LeNet-5 model."""

    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5, padding=2),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.LazyLinear(120),
            nn.Sigmoid(),
            nn.LazyLinear(84),
            nn.Sigmoid(),
            nn.LazyLinear(num_classes),
        )

    def forward(self, X):
        return self.net(X)

    def layer_summary(self, X_shape):
        X = torch.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)

    def apply_init(self, inputs, init=None):
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)

    def loss(self, Y_hat, Y, averaged=True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")

    def accuracy(self, Y_hat, Y, averaged=True):
        """Compute the number of correct predictions."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(axis=1).type(Y.dtype)
        compare = (preds == Y.reshape(-1)).type(torch.float32)
        return compare.mean() if averaged else compare

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), self.lr)


model = LeNet()
model.layer_summary((1, 1, 28, 28))
model.apply_init([torch.randn(1, 1, 28, 28)], init_cnn)
share_initial_state(model)
shapes = [list(p.shape) for p in model.parameters()]

# Fashion-MNIST replaced by random 28x28 images (no download).
rng = np.random.default_rng(1)
X = torch.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
y = torch.tensor(rng.integers(0, 10, 64))
optim = model.configure_optimizers()
losses, accuracies = [], []
for epoch in range(2):
    model.train()
    for i in range(0, 64, 16):
        loss = model.loss(model(X[i : i + 16]), y[i : i + 16])
        optim.zero_grad()
        with torch.no_grad():
            loss.backward()
            optim.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        accuracies.append(model.accuracy(model(X), y).item())
report(losses=losses, accuracies=accuracies, shapes=shapes, state_keys=len(model.state_dict()))
