""" "Learning PyTorch with Examples", Defining new autograd functions (LegendrePolynomial3), with optim."""

import math

import torch
from corpus_io import report, share_initial_state


class LegendrePolynomial3(torch.autograd.Function):
    """
    We can implement our own custom autograd Functions by subclassing
    torch.autograd.Function and implementing the forward and backward passes
    which operate on Tensors.
    """

    @staticmethod
    def forward(ctx, input):
        """
        In the forward pass we receive a Tensor containing the input and return
        a Tensor containing the output. ctx is a context object that can be used
        to stash information for backward computation.
        """
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        """
        In the backward pass we receive a Tensor containing the gradient of the loss
        with respect to the output, and we need to compute the gradient of the loss
        with respect to the input.
        """
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


class ScaledSquare(torch.autograd.Function):
    """Two outputs and a non-tensor argument, with ctx.needs_input_grad."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        ctx.save_for_backward(x)
        return scale * x * x, x + 1

    @staticmethod
    def backward(ctx, grad_square, grad_plus_one):
        (x,) = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_square * 2 * ctx.scale * x + grad_plus_one
        return grad_x, None


dtype = torch.float
device = torch.device("cpu")

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

# Create random Tensors for weights. For this example, we need
# 4 weights: y = a + b * P3(c + d * x), these weights need to be initialized
# not too far from the correct result to ensure convergence.
a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)
share_initial_state({"a": a, "b": b, "c": c, "d": d})

optimizer = torch.optim.SGD([a, b, c, d], lr=5e-6)
losses = []
for t in range(300):
    # To apply our Function, we use Function.apply method. We alias this as 'P3'.
    P3 = LegendrePolynomial3.apply

    # Forward pass: compute predicted y using operations; we compute
    # P3 using our custom autograd operation.
    y_pred = a + b * P3(c + d * x)

    # Compute and print loss
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
        losses.append(loss.item())

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")

z = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
square, plus_one = ScaledSquare.apply(z, 3.0)
(square.sum() + (plus_one * plus_one).sum()).backward()
step = (square.sum() * 2).grad_fn
names = [type(fn).__name__ if fn is not None else None for fn, _ in step.next_functions]
report(
    losses=losses,
    coefficients=[a.item(), b.item(), c.item(), d.item()],
    grad=z.grad.tolist(),
    next_functions=len(names),
    leaf_has_node=step.next_functions[0][0] is not None,
)
