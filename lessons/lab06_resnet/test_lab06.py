"""Checks for lab 6. Run them from this folder with:  python -m scratchnet.labs check ."""

import numpy as np
import residual as lab

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.data import digits
from scratchnet.labs.expect import expect_close, expect_equal, expect_gradcheck, expect_shape
from scratchnet.nn import functional as F

# Points per task: the score is POINTS[task] x the share of that task's checks that pass.
POINTS = {"6.1": 6, "6.2": 5, "6.3": 5, "6.4": 4}


def branch(block, x):
    """F(x) of a basic block, recomputed from its layers."""
    return block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))


def test_basic_block_shapes():
    """Task 6.1: BasicBlock keeps the shape at stride
    1 and halves it (with more channels) at stride 2"""
    x = sn.randn(2, 8, 8, 8)
    for args, expected in [
        ((8, 8), (2, 8, 8, 8)),
        ((8, 16, 2), (2, 16, 4, 4)),
        ((8, 8, 1, False), (2, 8, 8, 8)),
        ((8, 16, 2, False), (2, 16, 4, 4)),
    ]:
        expect_shape(
            lab.BasicBlock(*args)(x), expected, f"BasicBlock{args} on a (2, 8, 8, 8) batch"
        )


def test_shortcut_only_where_needed():
    """Task 6.1: identity shortcut where the shape is kept,
    1x1 projection where it changes, none in a plain block"""
    if lab.BasicBlock(8, 8).shortcut is not None:
        raise AssertionError(
            "BasicBlock(8, 8).shortcut should be None: the identity needs no layers"
        )
    if lab.BasicBlock(8, 16, 2, residual=False).shortcut is not None:
        raise AssertionError("a plain block (residual=False) has no shortcut")
    projection = lab.BasicBlock(8, 16, 2).shortcut
    kinds = [type(m).__name__ for m in projection] if projection is not None else None
    expect_equal(kinds, ["Conv2d", "BatchNorm2d"], "BasicBlock(8, 16, 2).shortcut's layers")
    conv = projection[0]
    expect_equal(
        (conv.kernel_size, conv.stride),
        ((1, 1), (2, 2)),
        "the projection conv's (kernel_size, stride)",
    )


def test_basic_block_forward():
    """Task 6.1: y = relu(F(x) + x) for a residual block, relu(F(x)) for a plain one (eval mode)"""
    x = sn.randn(2, 4, 5, 5)
    block, plain, projected = (
        lab.BasicBlock(4, 4),
        lab.BasicBlock(4, 4, residual=False),
        lab.BasicBlock(4, 6, 2),
    )
    for module in (block, plain, projected):
        module.eval()
    expect_close(block(x), F.relu(branch(block, x) + x), "residual BasicBlock(4, 4)(x)", atol=1e-5)
    expect_close(
        plain(x), F.relu(branch(plain, x)), "plain BasicBlock(4, 4, residual=False)(x)", atol=1e-5
    )
    expect_close(
        projected(x),
        F.relu(branch(projected, x) + projected.shortcut(x)),
        "BasicBlock(4, 6, 2)(x)",
        atol=1e-5,
    )


def test_silenced_branch_is_the_identity():
    """Task 6.1: with F(x) = 0 a residual block is the identity and passes the gradient;
    a plain block stops it"""
    values = np.abs(np.random.default_rng(0).standard_normal((2, 4, 4, 4))) + 0.1
    x = sn.tensor(values.astype(np.float32), requires_grad=True)
    for residual in (True, False):
        block = lab.BasicBlock(4, 4, residual=residual)
        with sn.no_grad():
            block.bn2.weight.fill_(0)  # the branch's last layer outputs beta = 0: F(x) = 0
            block.bn2.bias.fill_(0)
        x.grad = None
        y = block(x)
        y.sum().backward()
        kind = "residual" if residual else "plain"
        expect_close(
            y,
            x.numpy() if residual else np.zeros(x.shape),
            f"{kind} block output with F(x) = 0",
            atol=1e-6,
        )
        expected_grad = np.ones(x.shape) if residual else np.zeros(x.shape)
        expect_close(x.grad, expected_grad, f"{kind} block: d sum(y) / dx with F(x) = 0", atol=1e-6)


def test_basic_block_gradcheck():
    """Task 6.1: the gradient through a residual block
    (projection shortcut, eval mode) passes gradcheck"""
    block = lab.BasicBlock(2, 3, 2).double()
    block.eval()
    x = sn.tensor(np.random.default_rng(1).standard_normal((2, 2, 4, 4)), requires_grad=True)
    expect_gradcheck(block, [x], "BasicBlock(2, 3, 2) backward", names=("x",))


def bottleneck_params(in_channels, channels, projection):
    out = 4 * channels
    params = in_channels * channels + 9 * channels * channels + channels * out  # the three convs
    params += 2 * (channels + channels + out)  # three batch norms: gamma and beta
    return params + (in_channels * out + 2 * out if projection else 0)


def test_bottleneck():
    """Task 6.2: Bottleneck: 1x1 reduce, 3x3 with the stride, 1x1 expand to 4 * channels"""
    x = sn.randn(2, 16, 8, 8)
    for args, expected, projection in [
        ((16, 4), (2, 16, 8, 8), False),
        ((16, 8, 2), (2, 32, 4, 4), True),
    ]:
        block = lab.Bottleneck(*args)
        expect_shape(block(x), expected, f"Bottleneck{args} on a (2, 16, 8, 8) batch")
        kernels = [(c.kernel_size[0], c.stride[0]) for c in (block.conv1, block.conv2, block.conv3)]
        stride = args[2] if len(args) > 2 else 1
        expect_equal(
            kernels,
            [(1, 1), (3, stride), (1, 1)],
            f"Bottleneck{args}: (kernel, stride) of conv1..conv3",
        )
        n_params = sum(p.numel() for p in block.parameters())
        expect_equal(
            n_params,
            bottleneck_params(args[0], args[1], projection),
            f"Bottleneck{args}'s parameters",
        )


def test_bottleneck_forward():
    """Task 6.2: Bottleneck computes relu(F(x) + shortcut(x)):
    the shortcut is added, then the final ReLU"""
    x = sn.randn(2, 16, 6, 6)
    for args in [(16, 4), (16, 8, 2)]:
        block = lab.Bottleneck(*args)
        block.eval()
        with sn.no_grad():
            out = F.relu(block.bn1(block.conv1(x)))
            out = F.relu(block.bn2(block.conv2(out)))
            branch_out = block.bn3(block.conv3(out))
            shortcut = x if block.shortcut is None else block.shortcut(x)
            got = block(x)
        if np.allclose(got.numpy(), F.relu(branch_out).numpy(), atol=1e-6) and not np.allclose(
            shortcut.numpy(), 0
        ):
            raise AssertionError(
                f"Bottleneck{args}(x) equals relu(F(x)): the shortcut is not added"
            )
        if (got.numpy() < 0).any():
            raise AssertionError(
                f"Bottleneck{args}(x) has negative values: "
                "the final ReLU (after the sum) is missing"
            )
        expect_close(
            got,
            F.relu(branch_out + shortcut),
            f"Bottleneck{args}(x) vs relu(F(x) + shortcut(x))",
            atol=1e-5,
        )


def test_make_net():
    """Task 6.3: make_net has 2 + 4 * blocks weight layers; shortcuts only in the residual one"""
    x = sn.randn(3, 1, 8, 8)
    for blocks, residual in [(1, True), (2, False)]:
        net = lab.make_net(blocks, residual)
        expect_shape(
            net(x), (3, 10), f"make_net({blocks}, residual={residual}) on (3, 1, 8, 8) digits"
        )
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        expect_equal(
            len(convs) + len(linears),
            2 + 4 * blocks,
            f"3x3 convs + linear layers of make_net({blocks})",
        )
        n_blocks = sum(isinstance(m, lab.BasicBlock) for m in net.modules())
        expect_equal(n_blocks, 2 * blocks, f"BasicBlocks in make_net({blocks})")
        projections = sum(getattr(m, "shortcut", None) is not None for m in net.modules())
        expect_equal(
            projections,
            1 if residual else 0,
            f"projection shortcuts in make_net({blocks}, {residual})",
        )


def test_make_net_stages():
    """Task 6.3: stage 1 keeps the 8x8 map at width channels;
    stage 2 ends on a 4x4 map at 2 * width"""
    x = sn.randn(3, 1, 8, 8)
    for blocks, residual in [(1, True), (2, False)]:
        net = lab.make_net(blocks, residual, width=6)
        net.eval()
        shapes = []
        for module in net:
            x_out = module(x if not shapes else shapes[-1][1])
            shapes.append((type(module).__name__, x_out))
        block_shapes = [tuple(out.shape) for name, out in shapes if name == "BasicBlock"]
        expected = [(3, 6, 8, 8)] * blocks + [(3, 12, 4, 4)] * blocks
        expect_equal(
            block_shapes,
            expected,
            f"output shapes of the BasicBlocks of make_net({blocks}, width=6)",
        )


SGD_MADE: list[dict] = []  # the settings of every SGD that train() built


class RecordingSGD(optim.SGD):
    """scratchnet's SGD, recording the settings train() chose."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        SGD_MADE.append(dict(self.defaults))  # every setting, given or left at its default


def test_train_settings_and_seed(monkeypatch):
    """Task 6.4: train() uses SGD(lr, momentum 0.9, weight decay 1e-4)
    and draws its batches from its seed"""
    images, labels = digits("train").arrays
    images, labels = images[:64], labels[:64]
    monkeypatch.setattr(optim, "SGD", RecordingSGD)
    SGD_MADE.clear()
    runs = {}
    for seed in (0, 0, 1):
        sn.manual_seed(0)  # the same initial weights every time
        runs.setdefault(seed, []).append(
            lab.train(
                lab.make_net(1, True), images, labels, steps=3, lr=0.07, batch_size=8, seed=seed
            )
        )
    if len(SGD_MADE) != 3:
        raise AssertionError("train() should build one optim.SGD (scratchnet's) per call")
    settings = SGD_MADE[0]
    for key, value in (("lr", 0.07), ("momentum", 0.9), ("weight_decay", 1e-4)):
        if settings.get(key) != value:
            raise AssertionError(
                f"train()'s SGD: expected {key}={value}, got "
                f"{settings.get(key)} (settings {settings})"
            )
    first, again = runs[0]
    if first != again:
        raise AssertionError(
            "two runs of train() with the same seed gave different losses: draw the batches "
            "with np.random.default_rng(seed)"
        )
    if runs[1][0] == first:
        raise AssertionError(
            "train() with seed=0 and seed=1 gave the same losses: the seed is not used"
        )


def test_train_lowers_the_loss():
    """Task 6.4: train() returns one loss per step,
    and 20 steps lower the loss of a small residual net"""
    sn.manual_seed(0)
    images, labels = digits("train").arrays
    losses = lab.train(lab.make_net(1, True), images, labels, steps=20, lr=0.05, batch_size=16)
    expect_equal(len(losses), 20, "len(train(..., steps=20))")
    if not all(isinstance(loss, float) for loss in losses):
        raise AssertionError("train() should return Python floats (loss.item()), not Tensors")
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    if not last < 0.9 * first:
        raise AssertionError(
            f"the loss did not fall enough: first 5 steps {first:.3f}, last 5 steps {last:.3f}"
        )
