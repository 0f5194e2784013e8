"""PyTorch's names and behaviours around the layers (issue 14), each checked against PyTorch.

Devices, dtype aliases and type strings, NumPy's axis/keepdims names, the new ops (sin, cos, sinh,
cosh, linspace, normal, meshgrid, bmm, topk), lazy layers, the ctx-style autograd Function and
next_functions, Adadelta, DataParallel, Variable, the DataLoader's workers, torchvision-style
ResNet blocks, and the clear errors for what scratchnet does not do (streams, hub, distributed).
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from helpers import count_params

import scratchnet as sn
from scratchnet import nn
from scratchnet.data import DataLoader, Dataset, TensorDataset


def _t(torch, array, requires_grad=False):
    return torch.tensor(np.asarray(array), requires_grad=requires_grad)


# ---------------------------------------------------------------------- devices


def test_device_objects_print_compare_and_hash_like_torchs(torch):
    for args in [("cpu",), ("cuda",), ("cuda:0",), ("cuda", 1)]:
        ours, theirs = sn.device(*args), torch.device(*args)
        assert (repr(ours), str(ours), ours.type, ours.index) == (
            repr(theirs),
            str(theirs),
            theirs.type,
            theirs.index,
        )
    assert sn.device("cuda:0") == sn.device("cuda", 0) and sn.device("cuda") != sn.device("cuda:0")
    # The one deliberate difference: torch says a device never equals a string; scratchnet's equals
    # the string naming it, so that x.device == "cpu" (scratchnet's code and lessons) stays True.
    assert (torch.device("cpu") == "cpu") is False
    assert (
        sn.device("cpu") == "cpu"
        and sn.device("cuda:0") == "cuda"
        and sn.device("cuda:0") == "cuda:0"
    )
    assert (
        sn.device("cuda:0") != "cuda:1"
        and sn.device("cpu") != "cuda"
        and sn.device("cuda") != "cuda:0"
    )
    assert len({sn.device("cpu"), sn.device("cpu"), sn.device("cuda:0")}) == 2
    assert pickle.loads(pickle.dumps(sn.device("cuda:1"))) == sn.device("cuda:1")
    for bad in ["tpu", "cuda:x", "cuda:-1"]:
        with pytest.raises(RuntimeError):
            sn.device(bad)
        with pytest.raises(RuntimeError):
            torch.device(bad)


def test_to_takes_pytorchs_forms_on_tensors_and_modules():
    x = sn.randn(2, 3)
    assert x.to(sn.device("cpu")).shape == (2, 3)
    assert x.to("cpu", sn.float64).dtype == np.float64
    assert x.to(sn.device("cpu"), dtype=sn.float16, non_blocking=True).dtype == np.float16
    assert x.to(sn.tensor([1, 2])).dtype == np.int64  # another tensor's dtype and device
    assert x.to(device="cpu").shape == (2, 3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(devise="cpu")
    layer = nn.Linear(3, 2)
    weight = layer.weight
    assert layer.to(sn.device("cpu"), sn.float64) is layer and layer.weight is weight
    assert weight.dtype == np.float64


def test_cuda_accelerator_and_cudnn_answer_as_on_a_machine_without_gpu(torch):
    assert sn.cuda.is_available() == sn.accelerator.is_available()
    if not sn.cuda.is_available():
        assert sn.accelerator.current_accelerator() is None
    previous = sn.backends.cudnn.benchmark, sn.backends.cudnn.deterministic
    try:
        sn.backends.cudnn.benchmark, sn.backends.cudnn.deterministic = True, True
        assert sn.backends.cudnn.benchmark and sn.backends.cudnn.deterministic
    finally:
        sn.backends.cudnn.benchmark, sn.backends.cudnn.deterministic = previous


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: sn.cuda.Stream(), "CUDA streams"),
        (lambda: sn.cuda.stream(None), "CUDA streams"),
        (lambda: sn.hub.load("pytorch/vision", "resnet18"), "torch.hub.load"),
        (
            lambda: sn.hub.load_state_dict_from_url("https://x"),
            "torch.hub.load_state_dict_from_url",
        ),
        (lambda: sn.distributed.init_process_group("nccl"), "torch.distributed.init_process_group"),
        (lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2)), "DistributedDataParallel"),
    ],
)
def test_what_scratchnet_cannot_do_raises_naming_the_feature(call, names):
    with pytest.raises(NotImplementedError, match=names):
        call()


def test_compile_returns_the_model_itself_and_says_so():
    model = nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="no compiler"):
        assert sn.compile(model) is model
    with pytest.warns(UserWarning):
        assert sn.compile(mode="max-autotune")(model) is model
    assert not sn.distributed.is_available()


# -------------------------------------------------------------------- dtypes, type strings, aliases


def test_dtype_aliases_match_torchs(torch):
    for name in [
        "float",
        "double",
        "half",
        "long",
        "int",
        "short",
        "bool",
        "cfloat",
        "cdouble",
        "float32",
        "int64",
    ]:
        ours, theirs = np.dtype(getattr(sn, name)), getattr(torch, name)
        assert (
            ours.itemsize == theirs.itemsize and (ours.kind == "f") == theirs.is_floating_point
        ), name


def test_type_returns_torchs_strings_and_casts(torch):
    for dtype in ["float32", "float64", "int64", "int32", "uint8", "bool"]:
        values = np.array([0, 1, 2]).astype(dtype)
        assert sn.tensor(values).type() == torch.from_numpy(values).type()
    x = sn.tensor([1.5, 2.5])
    assert x.type(sn.float64).dtype == np.float64
    assert x.type("torch.LongTensor").dtype == np.int64
    assert x.type_as(sn.tensor([1])).dtype == np.int64
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.Nonsense")


def test_numpy_axis_and_keepdims_names_as_torch_accepts(torch):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x, tx = sn.tensor(a), torch.tensor(a)
    assert sn.argmax(x, axis=1).tolist() == torch.argmax(tx, axis=1).tolist()
    assert x.argmin(axis=0, keepdims=True).tolist() == tx.argmin(axis=0, keepdims=True).tolist()
    np.testing.assert_allclose(
        x.sum(axis=1, keepdims=True).numpy(), tx.sum(axis=1, keepdims=True).numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(
        sn.mean(x, axis=0).numpy(), torch.mean(tx, axis=0).numpy(), rtol=1e-6
    )
    assert x.max(axis=1).indices.tolist() == tx.max(axis=1).indices.tolist()
    with pytest.raises(TypeError, match="alias"):
        x.sum(dim=0, axis=1)


def test_comparisons_transpose_view_as_and_index(torch):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    x, tx = sn.tensor(a), torch.tensor(a)
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        assert getattr(x, name)(2.0).tolist() == getattr(tx, name)(2.0).tolist()
    assert sn.eq(x, x.t().t()).all() and x.equal(sn.tensor(a)) and not x.equal(x[:1])
    assert x.t().tolist() == tx.t().tolist() and sn.tensor([1.0, 2.0]).t().shape == (2,)
    with pytest.raises(RuntimeError, match="<= 2 dimensions"):
        sn.zeros(2, 2, 2).t()
    assert x.reshape(6).view_as(x).shape == (2, 3)
    assert [10, 20, 30][sn.tensor(2)] == [10, 20, 30][torch.tensor(2)] == 30
    assert list(range(sn.tensor(3))) == [0, 1, 2]
    with pytest.raises(TypeError, match="integer tensors of a single element"):
        [1, 2][sn.tensor(1.0)]
    with pytest.raises(TypeError):
        [1, 2][torch.tensor(1.0)]


# ---------------------------------------------------------------------- new ops, against torch


@pytest.mark.parametrize("name", ["sin", "cos", "sinh", "cosh"])
def test_trigonometric_ops_forward_and_backward(torch, name):
    rng = np.random.default_rng(1)
    # float64, random upstream gradient
    a, g = (
        rng.standard_normal((3, 4)),
        rng.standard_normal((3, 4)),
    )
    x, tx = sn.tensor(a, requires_grad=True), _t(torch, a, requires_grad=True)
    y, ty = getattr(sn, name)(x), getattr(torch, name)(tx)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(getattr(x, name)().numpy(), y.numpy())
    # integers become float, as in torch
    assert getattr(sn, name)(sn.tensor([1, 2])).dtype == np.float32


def test_linspace_and_normal(torch):
    np.testing.assert_allclose(sn.linspace(-3, 3, 7).numpy(), torch.linspace(-3, 3, 7).numpy())
    assert sn.linspace(0, 1, 5).dtype == np.float32 and sn.linspace(0, 1, 1).tolist() == [0.0]
    sn.manual_seed(0)
    samples = sn.normal(2.0, 3.0, size=(20000,))
    assert (
        samples.dtype == np.float32
        and abs(samples.mean().item() - 2) < 0.1
        and abs(samples.numpy().std() - 3) < 0.1
    )
    per_element = sn.normal(sn.tensor([0.0, 100.0]), sn.tensor([1e-3, 1e-3]))
    np.testing.assert_allclose(per_element.numpy(), [0, 100], atol=0.02)
    with pytest.raises(TypeError, match="size"):
        sn.normal(0.0, 1.0)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch_and_sends_gradients_back(torch, indexing):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(2), rng.standard_normal(3)
    xs = [sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)]
    txs = [_t(torch, a, True), _t(torch, b, True)]
    grids, tgrids = sn.meshgrid(*xs, indexing=indexing), torch.meshgrid(*txs, indexing=indexing)
    weights = rng.standard_normal(tuple(tgrids[0].shape))
    (grids[0] * weights + grids[1] * grids[1]).sum().backward()
    (tgrids[0] * torch.tensor(weights) + tgrids[1] * tgrids[1]).sum().backward()
    for grid, tgrid in zip(grids, tgrids, strict=True):
        np.testing.assert_allclose(grid.detach().numpy(), tgrid.detach().numpy())
    for x, tx in zip(xs, txs, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_bmm_matches_torch_and_checks_shapes(torch):
    rng = np.random.default_rng(3)
    a, b, g = (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((2, 4, 5)),
        rng.standard_normal((2, 3, 5)),
    )
    x, y = sn.tensor(a, requires_grad=True), sn.tensor(b, requires_grad=True)
    tx, ty = _t(torch, a, True), _t(torch, b, True)
    sn.bmm(x, y).backward(g)
    torch.bmm(tx, ty).backward(torch.tensor(g))
    np.testing.assert_allclose(
        x.bmm(y).detach().numpy(), torch.bmm(tx, ty).detach().numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="3-D"):
        sn.bmm(sn.zeros(3, 4), sn.zeros(4, 5))
    with pytest.raises(RuntimeError, match="batch sizes"):
        sn.bmm(sn.zeros(2, 3, 4), sn.zeros(3, 4, 5))


@pytest.mark.parametrize(("dim", "largest"), [(-1, True), (0, False), (1, True)])
def test_topk_values_indices_and_gradient_match_torch(torch, dim, largest):
    rng = np.random.default_rng(4)
    a = rng.permutation(20).reshape(4, 5).astype(np.float64)  # distinct values: one right answer
    x, tx = sn.tensor(a, requires_grad=True), _t(torch, a, True)
    values, indices = x.topk(2, dim=dim, largest=largest)
    tvalues, tindices = torch.topk(tx, 2, dim=dim, largest=largest)
    assert indices.tolist() == tindices.tolist() and values.tolist() == tvalues.tolist()
    g = rng.standard_normal(tuple(tvalues.shape))
    values.backward(g)
    tvalues.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(RuntimeError, match="out of range"):
        sn.topk(x, 9, dim=0)


# ---------------------------------------------------------------------- lazy layers


def _lazy_net(nn_module):
    return nn_module.Sequential(
        nn_module.LazyConv2d(4, kernel_size=3, padding=1),
        nn_module.LazyBatchNorm2d(),
        nn_module.ReLU(),
        nn_module.Flatten(),
        nn_module.LazyLinear(5),
    )


def test_lazy_layers_become_the_eager_ones_like_torchs(torch):
    ours, theirs = _lazy_net(nn), _lazy_net(torch.nn)
    assert "LazyConv2d" in repr(ours) and isinstance(ours[0].weight, nn.UninitializedParameter)
    ours(sn.zeros(2, 3, 6, 6))
    theirs(torch.zeros(2, 3, 6, 6))
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    assert "Conv2d(3, 4" in repr(ours) and "Linear(in_features=144" in repr(ours)
    assert count_params(ours) == count_params(theirs)
    # From now on, an eager layer: loading torch's weights gives torch's outputs.
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 6)).astype(np.float32)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(
        ours(sn.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-5
    )


def test_an_optimizer_made_before_the_first_call_updates_the_materialised_weights(torch):
    """As in PyTorch: the parameters are the same objects before and after they get their shape."""
    for library in (sn, torch):
        layer = library.nn.LazyLinear(2)
        optimizer = library.optim.SGD(layer.parameters(), lr=0.1)
        layer(library.ones(3, 4)).sum().backward()
        before = layer.weight.detach().numpy().copy()
        optimizer.step()
        assert type(layer).__name__ == "Linear" and layer.weight.shape == (2, 4)
        np.testing.assert_allclose(
            layer.weight.detach().numpy(), before - 0.1 * 3, rtol=1e-6, atol=1e-6
        )


def test_lazy_conv_checks_groups_and_rank():
    with pytest.raises(ValueError, match="groups must divide"):
        nn.LazyConv2d(4, 3, groups=2)(sn.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match="4-D"):
        nn.LazyConv2d(4, 3)(sn.zeros(3, 5, 5))


# ---------------------------------------------------------- autograd: ctx Functions, next_functions


def _legendre(library):
    class LegendrePolynomial3(library.autograd.Function):
        @staticmethod
        def forward(ctx, input, scale):
            ctx.save_for_backward(input)
            ctx.scale = scale
            return scale * 0.5 * (5 * input**3 - 3 * input), input * 2

        @staticmethod
        def backward(ctx, grad_output, grad_double):
            (input,) = ctx.saved_tensors
            grad = grad_output * ctx.scale * 1.5 * (5 * input**2 - 1) + 2 * grad_double
            return (grad if ctx.needs_input_grad[0] else None), None

    return LegendrePolynomial3


def test_ctx_style_function_matches_torch(torch):
    rng = np.random.default_rng(6)
    a, g1, g2 = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5)
    x, tx = sn.tensor(a, requires_grad=True), _t(torch, a, True)
    y, doubled = _legendre(sn).apply(x, 3.0)
    ty, tdoubled = _legendre(torch).apply(tx, 3.0)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ((y * sn.tensor(g1)).sum() + (doubled * sn.tensor(g2)).sum()).backward()
    ((ty * torch.tensor(g1)).sum() + (tdoubled * torch.tensor(g2)).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    assert "LegendrePolynomial3" in repr(y)


def test_ctx_style_function_errors():
    class TooFew(sn.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        TooFew.apply(sn.ones(2, requires_grad=True), 2.0).sum().backward()

    class TrailingNones(sn.autograd.Function):  # extra Nones are accepted, as in PyTorch
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3, None, None

    x = sn.ones(2, requires_grad=True)
    TrailingNones.apply(x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]

    class Square(sn.Function):  # scratchnet's own style: forward(self, array)
        def forward(self, x):
            return x * x

    with pytest.raises(TypeError, match=r"Square\(\)\(x\)"):
        Square.apply(sn.ones(2))
    y, _ = _legendre(sn).apply(sn.ones(2, requires_grad=True), 1.0)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.grad_fn.saved_tensors


def test_next_functions_have_torchs_structure(torch):
    results = []
    for library in (sn, torch):
        x = library.ones(2, requires_grad=True)
        y = (x * 2).sum() * library.ones(1)
        steps = y.grad_fn.next_functions
        inner = steps[0][0].next_functions
        leaf = inner[0][0].next_functions[0][0]
        results.append(
            (
                [i for _, i in steps],
                [n is None for n, _ in inner[0][0].next_functions],
                type(leaf).__name__,
                leaf.variable is x,
            )
        )
    assert results[0] == results[1]


def test_variable_is_a_tensor(torch):
    v = sn.autograd.Variable(sn.ones(2), requires_grad=True)
    tv = torch.autograd.Variable(torch.ones(2), requires_grad=True)
    assert isinstance(v, sn.Tensor) and v.requires_grad == tv.requires_grad and v.is_leaf


# ---------------------------------------------------------------------- Adadelta, DataParallel


@pytest.mark.parametrize(
    "kwargs", [{}, {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}, {"maximize": True}]
)
def test_adadelta_follows_torchs_trajectory(torch, kwargs):
    rng = np.random.default_rng(7)
    x, target = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    w0 = rng.standard_normal((4, 2))
    w, tw = sn.tensor(w0, requires_grad=True), _t(torch, w0, True)
    opt, topt = sn.optim.Adadelta([w], **kwargs), torch.optim.Adadelta([tw], **kwargs)
    for _ in range(5):
        for weight, optimizer, lib in ((w, opt, sn), (tw, topt, torch)):
            optimizer.zero_grad()
            ((lib.tensor(x) @ weight - lib.tensor(target)) ** 2).mean().backward()
            optimizer.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-10)


def test_data_parallel_passes_through_with_module_prefix(torch):
    inner = nn.Linear(3, 2)
    wrapped = nn.DataParallel(inner)
    x = sn.randn(4, 3)
    assert wrapped.module is inner and np.array_equal(wrapped(x).numpy(), inner(x).numpy())
    assert list(wrapped.state_dict()) == list(
        torch.nn.DataParallel(torch.nn.Linear(3, 2)).state_dict()
    )


# --------------------------------------------------------------------- torch.utils.data and workers


def test_utils_data_holds_the_same_objects():
    import scratchnet.utils.data as tud

    assert tud.DataLoader is sn.data.DataLoader and tud.TensorDataset is sn.data.TensorDataset
    assert (
        tud.Subset is sn.data.Subset
        and tud.random_split is sn.data.random_split
        and tud.Dataset is Dataset
    )


class _SlowSquares(Dataset):
    """A Python __getitem__ (where PyTorch code does its per-sample work)."""

    def __len__(self):
        return 37

    def __getitem__(self, i):
        return np.full((2, 2), i * i, dtype=np.float32), i % 3


def _worker_init(worker_id):
    np.random.seed(worker_id)


@pytest.mark.parametrize("context", ["fork", "thread"])
def test_workers_give_the_batches_of_one_process_in_order(context):
    def batches(**kwargs):
        loader = DataLoader(
            _SlowSquares(), batch_size=4, shuffle=True, seed=3, drop_last=True, **kwargs
        )
        return [[t.numpy().copy() for t in batch] for epoch in range(2) for batch in loader]

    serial = batches()
    parallel = batches(
        num_workers=2, multiprocessing_context=context, pin_memory=True, worker_init_fn=_worker_init
    )
    persistent = batches(
        num_workers=2, multiprocessing_context=context, persistent_workers=True, prefetch_factor=1
    )
    assert len(serial) == 2 * 9
    for other in (parallel, persistent):
        assert all(
            np.array_equal(a, b)
            for x, y in zip(serial, other, strict=True)
            for a, b in zip(x, y, strict=True)
        )


def test_worker_options_are_checked_and_persistent_workers_are_kept():
    with pytest.raises(ValueError, match="num_workers > 0"):
        DataLoader(_SlowSquares(), persistent_workers=True)
    with pytest.raises(ValueError, match="num_workers must be >= 0"):
        DataLoader(_SlowSquares(), num_workers=-1)
    loader = DataLoader(
        _SlowSquares(),
        batch_size=8,
        num_workers=1,
        persistent_workers=True,
        multiprocessing_context="thread",
    )
    list(loader)
    pool = loader._pool
    list(loader)
    assert pool is not None and loader._pool is pool
    loader.shutdown_workers()
    assert loader._pool is None


def test_a_loop_left_early_does_not_hang_and_the_next_epoch_is_complete():
    loader = DataLoader(_SlowSquares(), batch_size=2, num_workers=2, multiprocessing_context="fork")
    for _ in loader:
        break
    assert len(list(loader)) == 19


# ------------------------------------------------------------ ResNet with a torchvision-style block


def _custom_block(library):
    lnn = library.nn

    class Block(lnn.Module):
        expansion = 2

        def __init__(
            self,
            inplanes,
            planes,
            stride=1,
            downsample=None,
            groups=1,
            base_width=64,
            dilation=1,
            norm_layer=None,
        ):
            super().__init__()
            self.conv1 = lnn.Conv2d(inplanes, planes * 2, 3, stride, 1, bias=False)
            self.bn1 = norm_layer(planes * 2)
            self.relu = lnn.ReLU()
            self.downsample = downsample
            self.groups_seen = groups

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn1(self.conv1(x)) + identity)

    return Block


def test_resnet_takes_a_torchvision_style_block(torch):
    torchvision = pytest.importorskip("torchvision")
    ours = sn.models.ResNet(
        _custom_block(sn), [1, 2, 1, 1], num_classes=7, groups=2, width_per_group=32
    )
    theirs = torchvision.models.ResNet(
        _custom_block(torch), [1, 2, 1, 1], num_classes=7, groups=2, width_per_group=32
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.layer1[0].groups_seen == 2 and ours.inplanes == theirs.inplanes
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = np.random.default_rng(8).standard_normal((2, 3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(
        ours(sn.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-4
    )
    with pytest.raises(ValueError, match="torchvision's protocol"):
        sn.models.ResNet(sn.models.resnet.BasicBlock, [1, 1, 1, 1], groups=2)


def test_zero_init_residual_zeroes_the_last_bn_of_scratchnets_blocks():
    model = sn.models.resnet18(num_classes=3, zero_init_residual=True)
    assert all(float(abs(block.bn2.weight).sum()) == 0 for block in model.layer1)
    assert float(abs(model.bn1.weight).sum()) > 0


def test_warnings_free_import():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import scratchnet.utils.data  # noqa: F401


def test_random_split_takes_fractions_and_a_generator_as_torchs(torch):
    for lengths in ([0.7, 0.2, 0.1], [0.33, 0.33, 0.34], [0.5, 0.5]):
        ours = sn.data.random_split(
            TensorDataset(np.arange(10)), lengths, generator=sn.Generator().manual_seed(4)
        )
        theirs = torch.utils.data.random_split(
            torch.utils.data.TensorDataset(torch.arange(10)), lengths
        )
        assert [len(p) for p in ours] == [len(p) for p in theirs]
        assert sorted(int(i) for p in ours for i in p.indices) == list(range(10))
    first = [
        list(p.indices)
        for p in sn.data.random_split(
            TensorDataset(np.arange(10)), [5, 5], generator=sn.Generator().manual_seed(1)
        )
    ]
    again = [
        list(p.indices)
        for p in sn.data.random_split(
            TensorDataset(np.arange(10)), [5, 5], generator=sn.Generator().manual_seed(1)
        )
    ]
    assert first == again
    with pytest.raises(ValueError, match="add up"):
        sn.data.random_split(TensorDataset(np.arange(10)), [0.5, 0.2])


def test_generator_and_randperm(torch):
    g = sn.Generator().manual_seed(3)
    assert (
        g.initial_seed() == 3 and torch.Generator().initial_seed() == sn.Generator().initial_seed()
    )
    perm = sn.randperm(6, generator=g)
    assert perm.dtype == np.int64 and sorted(perm.tolist()) == list(range(6))
    assert sn.randperm(6, generator=sn.Generator().manual_seed(3)).tolist() == perm.tolist()
    loader = DataLoader(
        TensorDataset(np.arange(8)),
        batch_size=8,
        shuffle=True,
        generator=sn.Generator().manual_seed(0),
    )
    again = DataLoader(
        TensorDataset(np.arange(8)),
        batch_size=8,
        shuffle=True,
        generator=sn.Generator().manual_seed(0),
    )
    assert next(iter(loader))[0].tolist() == next(iter(again))[0].tolist()
