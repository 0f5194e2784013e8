"""The training loop: ``fit(model, train_loader, val_loader, optimizer, epochs)``.

One training step is the four lines every deep-learning course ends up at::

    outputs = model(images)                  # forward
    loss = loss_fn(outputs, labels)
    optimizer.zero_grad(); loss.backward()   # gradients of the loss w.r.t. every parameter
    optimizer.step()                         # move each parameter against its gradient

``Trainer`` wraps them with what a real run needs: a progress bar (loss, accuracy, images/s),
validation after every epoch (loss, top-1, top-5, confusion matrix), a learning-rate schedule,
early stopping, checkpoints every epoch, resuming from one, and the history of it all returned as
data. GoogLeNet's auxiliary classifiers are handled: when the model returns several outputs in
training, the loss is ``loss(main) + aux_weight * sum(loss(aux))`` (0.3 in the paper).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from scratchnet.function import no_grad
from scratchnet.ops.loss import binary_cross_entropy_with_logits, cross_entropy
from scratchnet.optim.lr_scheduler import ReduceLROnPlateau
from scratchnet.tensor import Tensor
from scratchnet.train import metrics
from scratchnet.train.checkpoint import load_checkpoint, save_checkpoint


def default_loss(outputs: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy for class indices (N,);
    sigmoid + binary cross-entropy for multi-label (N, L).
    """
    if targets.ndim == 2:
        return binary_cross_entropy_with_logits(outputs, targets.float())
    return cross_entropy(outputs, targets)


class History:
    """One row of numbers per epoch; ``history["val_accuracy"]`` is a column (a list)."""

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows = list(rows or [])

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def __getitem__(self, key: str) -> list[Any]:
        return [row.get(key) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def keys(self) -> list[str]:
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def to_dict(self) -> dict[str, list[Any]]:
        """Columns as plain lists (JSON-ready)."""
        return {key: self[key] for key in self.keys()}

    @classmethod
    def from_dict(cls, columns: dict[str, list[Any]] | None) -> History:
        columns = columns or {}
        n = len(next(iter(columns.values()), []))
        return cls([{key: _plain(columns[key][i]) for key in columns} for i in range(n)])

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, keys={self.keys()})"


class Trainer:
    """Trains a classifier; see the module docstring.

    Parameters
    ----------
    model : Module
    optimizer : Optimizer
    loss_fn : callable, optional
        ``loss_fn(outputs, targets) -> scalar Tensor``; default ``default_loss``.
    scheduler : LRScheduler or ReduceLROnPlateau, optional
        Stepped after every epoch (``ReduceLROnPlateau`` with the validation loss), or after
        every batch with ``scheduler_interval="step"`` (e.g. a warm-up counted in iterations).
    device : "cpu" or "cuda"
        The model is moved there, and every batch.
    aux_weight : float
        Weight of auxiliary outputs (GoogLeNet: 0.3).
    progress : bool
        Show a tqdm progress bar.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loss_fn: Callable[[Any, Tensor], Tensor] | None = None,
        scheduler: Any = None,
        scheduler_interval: str = "epoch",
        device: str = "cpu",
        aux_weight: float = 0.3,
        progress: bool = True,
    ) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(
                f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
            )
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn or default_loss
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.device, self.aux_weight, self.progress = device, aux_weight, progress
        if device != "cpu":
            model.to(device)

    # ------------------------------------------------------------------ one batch, one epoch

    def compute_loss(self, outputs: Any, targets: Tensor) -> tuple[Tensor, Tensor]:
        """The loss to minimise and the main output
        (the first one, when there are auxiliary ones).
        """
        if isinstance(outputs, tuple):
            # GoogLeNetOutputs(logits, aux_logits2, aux_logits1) in training
            main, *auxiliary = outputs
            loss = self.loss_fn(main, targets)
            for aux in auxiliary:
                if aux is not None:
                    loss = loss + self.aux_weight * self.loss_fn(aux, targets)
            return loss, main
        return self.loss_fn(outputs, targets), outputs

    def train_epoch(self, loader: Iterable[Any], description: str = "train") -> dict[str, float]:
        """One pass over ``loader`` with parameter updates; returns loss, accuracy, images/s."""
        self.model.train()
        total_loss, total_correct, seen = 0.0, 0.0, 0
        start = time.perf_counter()
        bar = _progress_bar(loader, description, self.progress)
        for images, targets in bar:
            images, targets = images.to(self.device), targets.to(self.device)
            loss, main = self.compute_loss(self.model(images), targets)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()

            n = len(targets)
            total_loss += float(loss.item()) * n
            total_correct += metrics.accuracy(_numpy(main), _numpy(targets)) * n
            seen += n
            speed = seen / max(time.perf_counter() - start, 1e-9)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(
                    loss=f"{total_loss / seen:.4f}",
                    acc=f"{total_correct / seen:.3f}",
                    img_s=f"{speed:.0f}",
                )
        seconds = time.perf_counter() - start
        return {
            "loss": total_loss / max(seen, 1),
            "accuracy": total_correct / max(seen, 1),
            "images_per_second": seen / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def evaluate(self, loader: Iterable[Any]) -> dict[str, Any]:
        """Loss, top-1 and top-5 accuracy, confusion matrix and AUC on ``loader``, in eval mode."""
        return evaluate(self.model, loader, self.loss_fn, self.device)

    # ------------------------------------------------------------------ the run

    def fit(
        self,
        train_loader: Any,
        val_loader: Any = None,
        epochs: int = 1,
        *,
        early_stopping: int | None = None,
        monitor: str = "val_loss",
        restore_best: bool = True,
        checkpoint: str | os.PathLike | None = None,
        resume_from: str | os.PathLike | None = None,
        callbacks: Iterable[Callable[[dict[str, Any]], Any]] = (),
    ) -> History:
        """Train until ``epochs`` epochs are done (or early stopping); returns the ``History``.

        Parameters
        ----------
        early_stopping : int, optional
            Stop when ``monitor`` has not improved for this many epochs (patience).
        monitor : str
            ``"val_loss"`` (lower is better) or ``"val_accuracy"`` (higher is better).
        restore_best : bool
            With early stopping, put the weights of the best epoch back at the end.
        checkpoint : path, optional
            Save a checkpoint there after every epoch.
        resume_from : path, optional
            Load a checkpoint first and go on from its epoch.
        callbacks : iterable of callable
            Each is called with the epoch's row of the history.
        """
        history = History()
        start_epoch = 0
        if resume_from is not None:
            state = load_checkpoint(
                resume_from,
                self.model,
                self.optimizer,
                self.scheduler,
                loaders={"train": train_loader},
            )
            start_epoch, history = int(state["epoch"]), History.from_dict(state["history"])
        higher_is_better = "accuracy" in monitor
        best_value, best_state, bad_epochs = -math.inf if higher_is_better else math.inf, None, 0

        for epoch in range(start_epoch, epochs):
            if hasattr(train_loader, "set_epoch"):
                # its shuffle and augmentation depend on the epoch only
                train_loader.set_epoch(epoch)
            lr = self.optimizer.param_groups[0]["lr"]  # the learning rate this epoch starts with
            train = self.train_epoch(train_loader, f"epoch {epoch + 1}/{epochs}")
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": train["loss"],
                "train_accuracy": train["accuracy"],
                "images_per_second": train["images_per_second"],
                "seconds": train["seconds"],
            }
            if val_loader is not None:
                val = self.evaluate(val_loader)
                row.update(
                    {f"val_{key}": val[key] for key in ("loss", "accuracy", "top5_accuracy", "auc")}
                )
            self._step_scheduler(row)
            history.append(row)
            for callback in callbacks:
                callback(row)
            if checkpoint is not None:
                save_checkpoint(
                    checkpoint,
                    self.model,
                    self.optimizer,
                    self.scheduler,
                    epoch=epoch + 1,
                    history=history,
                    loaders={"train": train_loader},
                )

            if early_stopping is not None:
                value = row.get(monitor)
                if value is None:
                    raise ValueError(
                        f"early stopping monitors {monitor!r}, which this run does not compute"
                    )
                improved = value > best_value if higher_is_better else value < best_value
                if improved:
                    best_value, bad_epochs = value, 0
                    best_state = copy.deepcopy(self.model.state_dict()) if restore_best else None
                else:
                    bad_epochs += 1
                    if bad_epochs >= early_stopping:
                        break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return history

    def _step_scheduler(self, row: dict[str, Any]) -> None:
        if self.scheduler is None or self.scheduler_interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(row.get("val_loss", row["train_loss"]))
        else:
            self.scheduler.step()


def fit(
    model: Any,
    train_loader: Any,
    val_loader: Any = None,
    optimizer: Any = None,
    epochs: int = 1,
    *,
    loss_fn: Callable[[Any, Tensor], Tensor] | None = None,
    scheduler: Any = None,
    scheduler_interval: str = "epoch",
    device: str = "cpu",
    aux_weight: float = 0.3,
    progress: bool = True,
    **fit_options: Any,
) -> History:
    """Train ``model``; the one-call form of ``Trainer(...).fit(...)``
    (see both for the arguments).
    """
    if optimizer is None:
        raise ValueError(
            "fit: an optimizer is needed, e.g. scratchnet.optim.SGD(model.parameters(), lr=0.1)"
        )
    trainer = Trainer(
        model, optimizer, loss_fn, scheduler, scheduler_interval, device, aux_weight, progress
    )
    return trainer.fit(train_loader, val_loader, epochs, **fit_options)


def evaluate(
    model: Any,
    loader: Iterable[Any],
    loss_fn: Callable[[Any, Tensor], Tensor] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate ``model`` on ``loader`` in eval mode, without recording the graph.

    Returns
    -------
    dict
        ``loss``, ``accuracy``, ``top5_accuracy``, ``auc`` (one-vs-rest mean), ``confusion_matrix``
        (K, K) and the raw ``scores`` (N, K) and ``targets``. For multi-label targets, accuracy is
        per label and there is no top-5 or confusion matrix.
    """
    loss_fn = loss_fn or default_loss
    was_training = model.training
    model.eval()
    total_loss, all_scores, all_targets = 0.0, [], []
    with no_grad():
        for images, targets in loader:
            outputs = model(images.to(device))
            if isinstance(outputs, tuple):
                outputs = outputs[0]
            targets = targets.to(device)
            total_loss += float(loss_fn(outputs, targets).item()) * len(targets)
            all_scores.append(_numpy(outputs))
            all_targets.append(_numpy(targets))
    model.train(was_training)
    scores, targets = np.concatenate(all_scores), np.concatenate(all_targets)
    result = {
        "loss": total_loss / len(targets),
        "accuracy": metrics.accuracy(scores, targets),
        "scores": scores,
        "targets": targets,
        "auc": metrics.mean_auc(scores, targets),
    }
    if targets.ndim == 1:
        result["top5_accuracy"] = metrics.topk_accuracy(scores, targets, 5)
        result["confusion_matrix"] = metrics.confusion_matrix(
            targets, scores.argmax(axis=1), scores.shape[1]
        )
    else:
        result["top5_accuracy"] = None
    return result


def _numpy(t: Tensor) -> np.ndarray:
    return np.asarray(t)  # Tensor.__array__ copies from the GPU when needed


def _plain(value: Any) -> Any:
    return (
        value.item()
        if isinstance(value, np.ndarray | np.generic) and np.ndim(value) == 0
        else value
    )


def _progress_bar(loader: Iterable[Any], description: str, enabled: bool) -> Iterable[Any]:
    if not enabled:
        return loader
    from tqdm.auto import tqdm  # imported when a bar is actually shown

    return tqdm(loader, desc=description, unit="batch", leave=False, dynamic_ncols=True)
