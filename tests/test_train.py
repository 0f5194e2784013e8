"""The training loop and the metrics: fit learns, history is data, aux outputs, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import DataLoader, TensorDataset, digits
from scratchnet.optim import lr_scheduler
from scratchnet.train import History, Trainer, evaluate, fit, metrics


def tiny_cnn(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(8 * 4 * 4, num_classes),
    )


def digit_loaders(n_train=300, batch_size=32):
    train, val = digits("train"), digits("val")
    train_ds = TensorDataset(train.images[:n_train], train.labels[:n_train])
    return (
        DataLoader(train_ds, batch_size=batch_size, shuffle=True, seed=0),
        DataLoader(val, batch_size=100),
    )


def test_fit_learns_digits_and_returns_history():
    train_loader, val_loader = digit_loaders()
    model = tiny_cnn()
    history = fit(
        model,
        train_loader,
        val_loader,
        optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        epochs=3,
        progress=False,
    )
    assert isinstance(history, History) and len(history) == 3
    assert history["epoch"] == [1, 2, 3]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.7  # 10 classes: chance is 0.1
    assert all(0 <= a <= 1 for a in history["val_top5_accuracy"])
    assert all(v > 0 for v in history["images_per_second"])
    json.dumps(history.to_dict())  # plain data


def test_progress_bar_shows_loss_accuracy_and_speed(capsys):
    train_loader, _ = digit_loaders(n_train=64)
    model = tiny_cnn()
    fit(model, train_loader, None, optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "loss=" in err and "acc=" in err and "img_s=" in err


def test_evaluate_gives_confusion_matrix_and_top5():
    _, val_loader = digit_loaders()
    model = tiny_cnn()
    model.train()
    result = evaluate(model, val_loader)
    assert model.training  # the mode is restored
    cm = result["confusion_matrix"]
    assert cm.shape == (10, 10) and cm.sum() == len(val_loader.dataset)
    assert result["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert result["top5_accuracy"] >= result["accuracy"]
    assert result["scores"].shape == (len(val_loader.dataset), 10)


class AuxNet(nn.Module):
    """Returns (main, aux2, aux1) in training and only main in eval, as torchvision's GoogLeNet."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())
        self.head = nn.Linear(32, 10)
        self.aux1, self.aux2 = nn.Linear(32, 10), nn.Linear(32, 10)

    def forward(self, x):
        h = self.features(x)
        if self.training:
            return self.head(h), self.aux2(h), self.aux1(h)
        return self.head(h)


def test_auxiliary_outputs_are_weighted_into_the_loss():
    model = AuxNet()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), aux_weight=0.3, progress=False)
    x, y = sn.randn(4, 1, 8, 8), sn.tensor([1, 2, 3, 4])
    outputs = model(x)
    loss, main = trainer.compute_loss(outputs, y)
    ce = sn.nn.functional.cross_entropy
    expected = ce(outputs[0], y).item() + 0.3 * (
        ce(outputs[1], y).item() + ce(outputs[2], y).item()
    )
    assert loss.item() == pytest.approx(expected, rel=1e-6) and main is outputs[0]
    loss.backward()
    assert model.aux1.weight.grad is not None  # gradients reach the auxiliary heads
    train_loader, val_loader = digit_loaders(n_train=320)
    trainer.optimizer = optim.Adam(model.parameters(), lr=0.01)
    history = trainer.fit(train_loader, val_loader, epochs=3)
    assert history["val_accuracy"][-1] > 0.5


def test_zoo_googlenet_aux_outputs_match_its_own_loss_helper():
    from scratchnet.models import googlenet, googlenet_loss

    model = googlenet(num_classes=4, aux_logits=True)  # 32x32 inputs keep it cheap
    x = np.random.default_rng(0).random((8, 3, 32, 32)).astype(np.float32)
    y = np.arange(8) % 4
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.01), progress=False)
    outputs = model(sn.tensor(x[:4]))
    loss, _ = trainer.compute_loss(outputs, sn.tensor(y[:4]))
    assert loss.item() == pytest.approx(googlenet_loss(outputs, sn.tensor(y[:4])).item(), rel=1e-6)
    history = trainer.fit(
        DataLoader(TensorDataset(x, y), 4), DataLoader(TensorDataset(x, y), 8), epochs=1
    )
    # 4 classes: top-5 is certain
    assert len(history) == 1 and history["val_top5_accuracy"] == [1.0]


def test_multilabel_targets_use_binary_cross_entropy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 4, 4)).astype(np.float32)
    y = (x.reshape(64, 16)[:, :3] > 0).astype(np.float32)  # 3 labels, each the sign of a pixel
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    history = fit(
        model, loader, loader, optim.Adam(model.parameters(), lr=0.05), epochs=15, progress=False
    )
    assert history["val_accuracy"][-1] > 0.9 and history["val_top5_accuracy"][-1] is None
    assert history["val_auc"][-1] > 0.95


def test_early_stopping_stops_after_patience():
    train_loader, val_loader = digit_loaders(n_train=64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    # lr = 0: nothing improves after the first epoch, so patience 2 stops after epoch 3
    history = fit(
        model,
        train_loader,
        val_loader,
        optim.SGD(model.parameters(), lr=0.0),
        epochs=10,
        early_stopping=2,
        progress=False,
    )
    assert len(history) == 3


def test_early_stopping_restores_the_best_epoch():
    train_loader, val_loader = digit_loaders(n_train=128)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    states = []
    history = fit(
        model,
        train_loader,
        val_loader,
        optim.SGD(model.parameters(), lr=2.0),
        epochs=5,
        early_stopping=10,
        progress=False,
        callbacks=[lambda row: states.append(model.state_dict())],
    )
    best = int(np.argmin(history["val_loss"]))
    assert best < len(history) - 1  # a large lr: the last epoch is not the best one
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, states[best][key])


def test_scheduler_steps_per_epoch_or_per_batch():
    train_loader, val_loader = digit_loaders(n_train=64, batch_size=32)
    model = tiny_cnn()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        train_loader,
        val_loader,
        opt,
        epochs=3,
        scheduler=lr_scheduler.StepLR(opt, 1, 0.5),
        progress=False,
    )
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    opt = optim.SGD(model.parameters(), lr=0.1)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4)
    history = fit(
        model,
        train_loader,
        None,
        opt,
        epochs=2,
        scheduler=warmup,
        scheduler_interval="step",
        progress=False,
    )
    # at the start of each epoch: 0.1 * (0.25 + 0.75 * 2/4)
    assert history["lr"] == pytest.approx([0.025, 0.0625])
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    fit(model, train_loader, val_loader, opt, epochs=1, scheduler=plateau, progress=False)
    assert plateau.last_epoch == 1 and plateau.best < np.inf


def test_fit_needs_an_optimizer():
    with pytest.raises(ValueError, match="optimizer is needed"):
        fit(tiny_cnn(), [], epochs=1)


# --------------------------------------------------------------------------- metrics


def test_topk_and_confusion_by_hand():
    scores = np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5]])
    targets = np.array([2, 0, 1])
    assert metrics.topk_accuracy(scores, targets, 1) == pytest.approx(1 / 3)
    assert metrics.topk_accuracy(scores, targets, 2) == pytest.approx(1.0)
    assert metrics.topk_accuracy(scores, targets, 5) == 1.0  # k larger than the classes
    cm = metrics.confusion_matrix(targets, scores.argmax(axis=1), 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(metrics.per_class_recall(cm), [1.0, 0.0, 0.0])


def test_roc_auc_by_hand_and_against_brute_force():
    assert metrics.roc_auc(
        np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])
    ) == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    targets = rng.integers(0, 2, 60)
    pos, neg = scores[targets == 1], scores[targets == 0]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        len(pos) * len(neg)
    )
    assert metrics.roc_auc(scores, targets) == pytest.approx(brute)
    assert np.isnan(metrics.roc_auc(scores, np.zeros(60)))
    assert metrics.mean_auc(np.eye(3)[[0, 1, 2, 0]], np.array([0, 1, 2, 0])) == 1.0
