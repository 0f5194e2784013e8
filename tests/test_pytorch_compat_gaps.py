"""PyTorch's semantics where real programs found scratchnet
different (issue 14, follow-up), against PyTorch.

state_dict values (detached Tensors sharing the parameters' storage), ``TensorDataset[i]``,
``Tensor.device`` objects, the default dtype, ``load_state_dict`` into lazy layers, the graph after
backward (``next_functions``), the samplers and ``DataLoader(sampler=, batch_sampler=)``,
``ctx.mark_dirty`` and ``once_differentiable``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)


def _pair(torch):
    """The same small CNN in both libraries, with torch's weights copied into ours."""
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3),
        torch.nn.BatchNorm2d(3),
        torch.nn.Flatten(),
        torch.nn.Linear(12, 2),
    )
    ours = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


# ---------------------------------------------------------------------- state_dict


def test_state_dict_values_are_detached_tensors_sharing_storage_as_torchs(torch):
    ours, theirs = _pair(torch)
    for library, model in (("ours", ours), ("theirs", theirs)):
        state = model.state_dict()
        weight = state["0.weight"]
        assert not weight.requires_grad and weight.grad_fn is None, library
        assert tuple(weight.shape) == tuple(weight.size()) == (3, 2, 3, 3), library
        assert tuple(weight.clone().shape) == (3, 2, 3, 3), library
        state["3.bias"].copy_(state["3.bias"] * 0 + 7)  # writes through to the model, in both
        assert float(model[3].bias.detach().sum()) == 14.0, library
        with (sn if library == "ours" else torch).no_grad():
            model[3].bias.fill_(5.0)  # and the model writes through to it
        assert float(state["3.bias"].sum()) == 10.0, library
        assert state["1.num_batches_tracked"].dtype == (
            np.int64 if library == "ours" else torch.int64
        )
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for (key, a), b in zip(ours_state.items(), theirs_state.values(), strict=True):
        assert sn.equal(a, sn.tensor(b.numpy())) and sn.allclose(a, sn.tensor(b.numpy())), key
    a, b = sn.tensor([1.0, float("nan")]), sn.tensor([1.0 + 1e-7, float("nan")])
    ta, tb = torch.tensor(a.numpy()), torch.tensor(b.numpy())
    assert sn.isclose(a, b).tolist() == torch.isclose(ta, tb).tolist() == [True, False]
    assert sn.allclose(a, b, equal_nan=True) is torch.allclose(ta, tb, equal_nan=True) is True
    for library, first in ((sn, a), (torch, ta)):
        with pytest.raises(RuntimeError, match="did not match"):
            library.allclose(first, first.double())
        with pytest.raises(TypeError, match="must be Tensor"):
            library.allclose(first, 1.0)


def test_a_snapshot_is_a_deepcopy_or_clones_and_loads_back(tmp_path):
    model = nn.Linear(3, 2)
    live, snapshot = model.state_dict(), copy.deepcopy(model.state_dict())
    cloned = {key: value.clone() for key, value in model.state_dict().items()}
    before = model.weight.detach().numpy().copy()
    with sn.no_grad():
        model.weight.fill_(0.0)
    assert np.all(live["weight"].numpy() == 0) and np.array_equal(
        snapshot["weight"].numpy(), before
    )
    assert np.array_equal(cloned["weight"].numpy(), before)
    model.load_state_dict(snapshot)  # Tensors
    assert np.array_equal(model.weight.detach().numpy(), before)
    model.load_state_dict({key: value.numpy() for key, value in cloned.items()})  # or arrays
    assert np.array_equal(model.weight.detach().numpy(), before)

    # scratchnet.save / load keep working with a state_dict of Tensors
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    sn.save(model.state_dict(), tmp_path / "model.pt")
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    other.load_state_dict(sn.load(tmp_path / "model.pt"))
    for (key, a), b in zip(model.state_dict().items(), other.state_dict().values(), strict=True):
        assert sn.equal(a, b) and a.dtype == b.dtype, key


# ---------------------------------------------------------------------- datasets, devices, dtypes


def test_tensor_dataset_items_are_tensors_as_torchs(torch):
    x, y = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32), np.arange(5)
    ours, theirs = (
        TensorDataset(sn.tensor(x), sn.tensor(y))[3],
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))[3],
    )
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs, strict=True):
        assert (
            isinstance(a, sn.Tensor)
            and tuple(a.shape) == tuple(b.shape)
            and str(a.dtype) in str(b.dtype)
        )
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert ours[1].item() == 3 and isinstance(ours[1].item(), int)
    batches = list(DataLoader(TensorDataset(sn.tensor(x), sn.tensor(y)), batch_size=2))
    assert [tuple(b[0].shape) for b in batches] == [(2, 2, 3), (2, 2, 3), (1, 2, 3)]


def test_tensor_device_is_a_device_object_like_torchs(torch):
    x, tx = sn.zeros(2), torch.zeros(2)
    assert (
        isinstance(x.device, sn.device)
        and repr(x.device) == repr(tx.device)
        and str(x.device) == str(tx.device)
    )
    assert (
        x.device == sn.device("cpu")
        and x.device.type == tx.device.type == "cpu"
        and x.device.index is None
    )
    # scratchnet's strings still compare (torch: always False)
    assert x.device == "cpu" and x.device != "cuda"
    layer = nn.Linear(2, 2)
    assert next(layer.parameters()).device == sn.device("cpu") and x.to(x.device).device == x.device
    assert sn.zeros(2, device=x.device).device == x.device


def test_default_dtype_and_dtype_comparisons(torch):
    assert sn.get_default_dtype() == sn.float32 and torch.get_default_dtype() == torch.float32
    sn.set_default_dtype(sn.float32)  # the default itself: accepted
    with pytest.raises(NotImplementedError, match=r"dtype=scratchnet.float64"):
        sn.set_default_dtype(sn.float64)
    with pytest.raises(TypeError, match="floating-point"):
        sn.set_default_dtype(sn.int64)
    with pytest.raises(TypeError, match="floating"):
        torch.set_default_dtype(torch.int64)
    x = sn.ones(2)
    assert (
        x.dtype == sn.float32
        and x.to(sn.float64).dtype == sn.float64
        and x.double().dtype == sn.double
    )
    assert sn.get_default_dtype() == sn.float32  # the failed calls changed nothing


# ---------------------------------------------------------------------- lazy layers


def test_lazy_layers_load_a_state_dict_before_the_first_call_as_torchs(torch):
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(4, 6, 3, groups=2),
        torch.nn.BatchNorm2d(6),
        torch.nn.Flatten(),
        torch.nn.Linear(24, 5),
    ).eval()
    state = {key: value.numpy() for key, value in theirs.state_dict().items()}
    ours = nn.Sequential(
        nn.LazyConv2d(6, 3, groups=2), nn.LazyBatchNorm2d(), nn.Flatten(), nn.LazyLinear(5)
    )
    lazy_torch = torch.nn.Sequential(
        torch.nn.LazyConv2d(6, 3, groups=2),
        torch.nn.LazyBatchNorm2d(),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(5),
    )
    lazy_torch.load_state_dict(theirs.state_dict())
    result = ours.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert type(ours[0]) is nn.Conv2d and ours[0].in_channels == 4 and ours[3].in_features == 24
    assert type(ours[1]) is nn.BatchNorm2d and ours[1].num_features == 6
    x = np.random.default_rng(1).standard_normal((2, 4, 4, 4)).astype(np.float32)
    expected = lazy_torch.eval()(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours.eval()(sn.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert [tuple(p.shape) for p in ours.parameters()] == [
        tuple(p.shape) for p in theirs.parameters()
    ]

    # a partial load leaves a lazy layer lazy
    layer = nn.LazyLinear(3)
    result = layer.load_state_dict({}, strict=False)
    assert result.missing_keys == ["weight", "bias"] and type(layer) is nn.LazyLinear
    # the first call still shapes it
    assert layer(sn.ones(2, 4)).shape == (2, 3) and type(layer) is nn.Linear


# ---------------------------------------------------------------------- the graph after backward


def test_next_functions_survive_backward_as_in_torch(torch):
    shapes = []
    for library in (sn, torch):
        w = library.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
        y = ((w * 2).relu() + w).sum()
        y.backward()  # frees what backward saved, not the nodes
        add = y.grad_fn.next_functions[0][0]
        steps = add.next_functions
        shapes.append(
            (
                len(steps),
                [n is None for n, _ in steps],
                len(steps[0][0].next_functions),
                len(steps[0][0].next_functions[0][0].next_functions),
            )
        )
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()
    assert shapes[0] == shapes[1]


# ---------------------------------------------------------------------- samplers


def test_sequential_and_batch_samplers_match_torchs(torch):
    data = list(range(7))
    assert list(SequentialSampler(data)) == list(torch.utils.data.SequentialSampler(data))
    for batch_size, drop_last in ((3, False), (3, True), (7, False), (10, True)):
        ours = BatchSampler(SequentialSampler(data), batch_size, drop_last)
        theirs = torch.utils.data.BatchSampler(
            torch.utils.data.SequentialSampler(data), batch_size, drop_last
        )
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            BatchSampler(data, bad, False)
        with pytest.raises(ValueError, match="batch_size"):
            torch.utils.data.BatchSampler(data, bad, False)


def test_random_samplers_draw_what_torchs_draw():
    sn.manual_seed(0)
    data = list(range(10))
    first, second = list(RandomSampler(data)), list(RandomSampler(data))
    assert sorted(first) == sorted(second) == data and first != second  # a new permutation per pass
    assert all(isinstance(i, int) for i in first)
    longer = list(RandomSampler(data, num_samples=25))
    assert len(longer) == 25 and sorted(longer[:10]) == sorted(longer[10:20]) == data
    drawn = list(RandomSampler(data, replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) <= set(data)
    # repeats
    assert max(np.bincount(list(RandomSampler([0, 1, 2], replacement=True, num_samples=12)))) > 1
    subset = list(SubsetRandomSampler([4, 2, 9]))
    assert sorted(subset) == [2, 4, 9]
    same = [list(RandomSampler(data, generator=sn.Generator().manual_seed(5))) for _ in range(2)]
    assert same[0] == same[1]
    weighted = list(
        WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 400, generator=sn.Generator().manual_seed(1))
    )
    counts = np.bincount(weighted, minlength=4)
    assert counts[0] == counts[2] == 0 and 60 < counts[1] < 140  # 100 expected: 400 * 1/4
    assert sorted(WeightedRandomSampler([1.0, 1.0, 0.0], 2, replacement=False)) == [0, 1]
    # torch: [1, 0] too
    assert list(WeightedRandomSampler([0.0, 1.0], 2, replacement=False)) == [
        1,
        0,
    ]


@pytest.mark.parametrize(
    ("weights", "replacement", "match"),
    [([0.0, 0.0], True, "invalid"), ([1.0, -1.0], True, "invalid"), ([1.0, 0.0], False, "cannot")],
)
def test_weighted_sampler_errors_where_torchs(torch, weights, replacement, match):
    with pytest.raises(RuntimeError, match=match):
        # torch raises at the first draw, scratchnet when built
        list(torch.utils.data.WeightedRandomSampler(weights, 3, replacement=replacement))
    with pytest.raises(RuntimeError, match=match):
        list(WeightedRandomSampler(weights, 3, replacement=replacement))


def test_dataloader_takes_a_sampler_or_a_batch_sampler_as_torchs(torch):
    x = np.arange(10, dtype=np.float32)
    ours_ds, theirs_ds = (
        TensorDataset(sn.tensor(x)),
        torch.utils.data.TensorDataset(torch.tensor(x)),
    )
    order = [7, 1, 4, 0, 9]
    ours = [b[0].tolist() for b in DataLoader(ours_ds, batch_size=2, sampler=order)]
    theirs = [
        b[0].tolist() for b in torch.utils.data.DataLoader(theirs_ds, batch_size=2, sampler=order)
    ]
    assert ours == theirs == [[7.0, 1.0], [4.0, 0.0], [9.0]]
    batches = [[3, 2], [8], [0, 1, 5]]
    ours = DataLoader(ours_ds, batch_sampler=batches)
    theirs = torch.utils.data.DataLoader(theirs_ds, batch_sampler=batches)
    assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs] and len(ours) == len(
        theirs
    ) == 3
    loader = DataLoader(
        ours_ds, batch_size=4, sampler=SubsetRandomSampler(range(6)), drop_last=True
    )
    assert len(loader) == 1 and len(loader.sampler) == 6
    assert sorted(next(iter(loader))[0].tolist()) != [] and set(
        next(iter(loader))[0].tolist()
    ) <= set(range(6))
    workers = DataLoader(ours_ds, batch_size=3, sampler=order, num_workers=2)
    assert [b[0].tolist() for b in workers] == [[7.0, 1.0, 4.0], [0.0, 9.0]]
    for kwargs in (
        {"sampler": order, "shuffle": True},
        {"batch_sampler": batches, "batch_size": 2},
        {"batch_sampler": batches, "drop_last": True},
    ):
        with pytest.raises(ValueError, match="mutually exclusive"):
            DataLoader(ours_ds, **kwargs)
        with pytest.raises(ValueError, match="mutually exclusive"):
            torch.utils.data.DataLoader(theirs_ds, **kwargs)


# -------------------------------------------------------------- ctx.mark_dirty, once_differentiable


def _double_in_place(library):
    from_function = library.autograd.function

    class DoubleInPlace(library.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.copy_(x * 2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        @from_function.once_differentiable
        def backward(ctx, grad):
            return grad * 2

    return DoubleInPlace


def test_mark_dirty_makes_the_input_the_output_as_in_torch(torch):
    import scratchnet.autograd.function  # noqa: F401 (torch.autograd.function's path)

    results = []
    for library in (sn, torch):
        w = library.tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
        a = w * 3
        b = _double_in_place(library).apply(a)
        # a is now the doubled tensor, and its gradient goes through the node
        (a * a).sum().backward()
        results.append(
            (b is a, a.grad_fn is not None, a.detach().numpy().tolist(), w.grad.numpy().tolist())
        )
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            _double_in_place(library).apply(library.ones(2, requires_grad=True))
    assert results[0] == results[1]


# ------------------------------------------------------------------- what the public tutorials used


def test_mm_norm_and_the_new_factories_match_torch(torch):
    rng = np.random.default_rng(3)
    a, b = (
        rng.standard_normal((3, 4)).astype(np.float32),
        rng.standard_normal((4, 2)).astype(np.float32),
    )
    np.testing.assert_allclose(
        sn.tensor(a).mm(sn.tensor(b)).numpy(),
        torch.tensor(a).mm(torch.tensor(b)).numpy(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(sn.mm(sn.tensor(a), sn.tensor(b)).numpy(), (a @ b), rtol=1e-6)
    for library in (sn, torch):
        with pytest.raises(RuntimeError):
            library.tensor(a).mm(library.tensor(a[None]))
    for args in ((), (2,), ("fro",), (1,), (2, 1), (1, 0)):
        ours = sn.tensor(a, requires_grad=True)
        theirs = torch.tensor(a, requires_grad=True)
        np.testing.assert_allclose(
            ours.norm(*args).numpy(), theirs.norm(*args).detach().numpy(), rtol=1e-5
        )
        ours.norm(*args).sum().backward()
        theirs.norm(*args).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-7)
    x, tx = sn.tensor(a), torch.tensor(a)
    for name, args in (
        ("new_ones", (2, 3)),
        ("new_zeros", ((2,),)),
        ("new_full", ((2, 2), 7)),
        ("new_empty", (0,)),
        ("new_tensor", ([1, 2],)),
    ):
        ours, theirs = getattr(x, name)(*args), getattr(tx, name)(*args)
        assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) in str(theirs.dtype), (
            name
        )
        if name != "new_empty":
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert x.new_ones(2, dtype=sn.float64).dtype == np.float64 and sn.empty(2, 3).shape == (2, 3)
    assert sn.empty_like(x).shape == x.shape and sn.ones_like(x, device=x.device).device == x.device
    assert sn.zeros_like(x, device="cpu").dtype == np.float32


def test_out_alpha_generator_and_randint_forms_as_torchs(torch):
    x, y = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 3), dtype=np.float32)
    for library in (sn, torch):
        result = library.empty(2, 3)
        returned = library.add(library.tensor(x), library.tensor(y), alpha=2, out=result)
        assert returned is result and result.tolist() == (x + 2 * y).tolist()
        assert (
            library.sub(library.tensor(x), library.tensor(y), alpha=3).tolist()
            == (x - 3 * y).tolist()
        )
        assert library.mul(library.tensor(x), 2).tolist() == (2 * x).tolist()
        with pytest.raises(
            RuntimeError, match=r"out=\.\.\. arguments don't support automatic differentiation"
        ):
            library.add(library.tensor(x, requires_grad=True), 1.0, out=library.empty(2, 3))
    first = sn.randn(3, 2, generator=sn.Generator().manual_seed(1))
    assert sn.randn(3, 2, generator=sn.Generator().manual_seed(1)).tolist() == first.tolist()
    assert (
        sn.rand(4, generator=sn.Generator().manual_seed(2)).tolist()
        == sn.rand(4, generator=sn.Generator().manual_seed(2)).tolist()
    )
    for library in (sn, torch):
        values = library.randint(5, (200,))
        assert (
            tuple(values.shape) == (200,) and values.min().item() >= 0 and values.max().item() == 4
        )
        assert library.randint(3, 5, (50,)).min().item() == 3


def test_to_tensor_matches_torchvision():
    torchvision_transforms = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(0)
    for image in (
        rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
        rng.integers(0, 256, (5, 4), dtype=np.uint8),
        rng.random((5, 4, 3)).astype(np.float32),
    ):
        ours = sn.data.transforms.ToTensor()(image)
        assert isinstance(ours, sn.Tensor)
        np.testing.assert_allclose(
            ours.numpy(), torchvision_transforms.ToTensor()(image).numpy(), rtol=1e-6
        )
        pipeline = [("ToTensor", ()), ("Normalize", ((0.5,), (0.25,)))]
        ours = sn.data.transforms.Compose(
            [getattr(sn.data.transforms, n)(*a) for n, a in pipeline]
        )(image)
        theirs = torchvision_transforms.Compose(
            [getattr(torchvision_transforms, n)(*a) for n, a in pipeline]
        )(image)
        np.testing.assert_allclose(np.asarray(ours), theirs.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ToTensor"):
        sn.data.transforms.ToTensor()(np.zeros((2, 2, 2, 2)))


def test_load_takes_torchs_keywords_and_mps_is_not_available(tmp_path, torch):
    model = nn.Linear(3, 2)
    sn.save(model.state_dict(), tmp_path / "m.pt")
    for kwargs in (
        {"weights_only": True},
        {"weights_only": False},
        {"map_location": "cpu"},
        {"map_location": sn.device("cpu")},
    ):
        loaded = sn.load(tmp_path / "m.pt", **kwargs)
        np.testing.assert_array_equal(loaded["weight"], model.weight.array)
    with pytest.raises(NotImplementedError, match="map_location"):
        sn.load(tmp_path / "m.pt", map_location=lambda storage, location: storage)
    assert sn.backends.mps.is_available() is False and sn.backends.mps.is_built() is False
    assert hasattr(torch.backends.mps, "is_available") and hasattr(torch.backends.mps, "is_built")


def test_an_epoch_with_workers_leaves_no_worker_processes():
    import multiprocessing

    # Only this loader's workers count: an earlier test's persistent workers, shut down without
    # waiting when their loader was collected, may still be exiting.
    before = set(multiprocessing.active_children())
    loader = DataLoader(TensorDataset(np.arange(12, dtype=np.float32)), batch_size=3, num_workers=2)
    assert [b[0].tolist() for b in loader][-1] == [9.0, 10.0, 11.0]
    it = iter(loader)
    next(it)
    it.close()  # a loop left early (break): its workers stop too
    assert set(multiprocessing.active_children()) <= before


# --- found in review: each gave a silently wrong result before -----------------------------------


def test_out_argument_counts_as_an_in_place_change():
    a, b = sn.tensor([1.0, 2.0], requires_grad=True), sn.tensor([3.0, 4.0])
    y = a * b  # saves b for a's gradient
    sn.add(b, b, out=b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_tensors_saved_by_a_ctx_function_are_version_checked():
    class Square(sn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 2 * x * gy

    w = sn.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1.0
    y = Square.apply(h)
    y.sum().backward(retain_graph=True)
    assert w.grad.tolist() == [2.0, 4.0]
    h.add_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        ([1.0, np.nan, 3.0, 2.0], np.float32, [1, 2]),
        ([0, 5], np.uint8, [1, 0]),
        ([-128, 5, 3], np.int8, [1, 2]),
    ],
)
def test_topk_ranks_nan_first_and_handles_unsigned_and_minimum_ints(values, dtype, expected):
    indices = sn.tensor(np.array(values, dtype=dtype)).topk(2).indices
    assert indices.tolist() == expected  # torch: NaN is the largest; no wrap-around of -x


def test_norm_has_gradient_zero_at_a_zero_vector():
    x = sn.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-6)  # not NaN at 0
    assert x.norm(dim=1, keepdim=True).shape == (2, 1) and x.norm().item() == 5.0
