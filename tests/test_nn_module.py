"""nn.Module, Parameter and the containers: registration,
tree walks, modes, devices, state_dict, hooks, repr."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.scale = nn.Parameter(sn.ones(1))
        self.register_buffer("steps", sn.zeros(1))
        self.register_buffer("cache", sn.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.conv(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(Block(), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.features(x))


# ---------------------------------------------------------------------- registration and tree walks


def test_named_parameters_buffers_and_modules_in_definition_order():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "features.0.scale",
        "features.0.conv.weight",
        "features.0.bn.weight",
        "features.0.bn.bias",
        "fc.weight",
        "fc.bias",
    ]
    assert [name for name, _ in net.named_buffers()] == [
        "features.0.steps",
        "features.0.cache",
        "features.0.bn.running_mean",
        "features.0.bn.running_var",
        "features.0.bn.num_batches_tracked",
    ]
    assert [name for name, _ in net.named_modules()] == [
        "",
        "features",
        "features.0",
        "features.0.conv",
        "features.0.bn",
        "features.1",
        "features.2",
        "features.3",
        "fc",
    ]
    assert [name for name, _ in net.named_children()] == ["features", "fc"]
    assert list(net.children()) == [net.features, net.fc]
    assert len(list(net.modules())) == 9
    assert len(list(net.parameters())) == 6 and len(list(net.buffers())) == 5
    assert [name for name, _ in net.named_parameters(recurse=False)] == []
    assert [name for name, _ in net.fc.named_parameters(prefix="head")] == [
        "head.weight",
        "head.bias",
    ]


def test_shared_modules_and_parameters_are_reported_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [name for name, _ in model.named_modules()] == ["", "0", "1"]
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 3


def test_setattr_getattr_delattr():
    m = nn.Module()
    m.w = nn.Parameter(sn.zeros(2))
    m.child = nn.Linear(1, 1)
    m.plain = 3
    assert "w" in m._parameters and "child" in m._modules and "plain" in m.__dict__
    assert m.w is m._parameters["w"]
    m.w = None  # allowed: a parameter slot may hold None
    assert m.w is None and [n for n, _ in m.named_parameters()] == ["child.weight", "child.bias"]
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'w'"):
        m.w = sn.zeros(2)
    m.register_buffer("buf", sn.zeros(1))
    m.buf = sn.ones(1)  # re-assigning a buffer keeps it a buffer
    assert m._buffers["buf"].item() == 1
    with pytest.raises(TypeError, match="as buffer 'buf'"):
        m.buf = 5
    m.child = nn.Identity()  # replace a child
    assert isinstance(m.child, nn.Identity)
    m.child = nn.Parameter(sn.zeros(1))  # a name moves from one registry to another
    assert "child" not in m._modules and "child" in m._parameters
    del m.child, m.buf, m.plain
    assert not hasattr(m, "child") and not hasattr(m, "buf") and not hasattr(m, "plain")
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(1, 1).wieght
    assert "weight" in dir(nn.Linear(1, 1))


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sn.zeros(1))  # before super().__init__()

    with pytest.raises(AttributeError, match=r"before Module\.__init__"):
        Early()
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", sn.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", sn.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None expected"):
        m.register_buffer("x", np.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.register_parameter("p", sn.zeros(1))
    with pytest.raises(TypeError, match="is not a Module"):
        m.add_module("x", 3)
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        m(1)


def test_parameter():
    data = sn.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, sn.Tensor) and p.requires_grad and p.is_leaf
    assert p.array is data.array  # shares the array, as torch.nn.Parameter
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert not nn.Parameter(sn.zeros(1), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)


def test_get_submodule_and_apply():
    net = Net()
    assert net.get_submodule("features.0.bn") is net.features[0].bn
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("features.nope")
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    # children first
    assert visited[-1] == "Net" and visited[-2] == "Linear" and visited[0] == "Conv2d"


# ------------------------------------------------------------------------ modes, gradients, devices


def test_train_eval_propagate():
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = Net()
    out = net(sn.randn(2, 2, 5, 5))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_moves_and_casts_in_place_keeping_the_same_objects():
    net = Net()
    net(sn.randn(2, 2, 5, 5)).sum().backward()
    params = list(net.parameters())
    assert net.to("cpu") is net
    assert all(a is b for a, b in zip(params, net.parameters(), strict=True))
    net.double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert all(a is b for a, b in zip(params, net.parameters(), strict=True))
    bn = net.features[0].bn
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    assert net.features[0].cache.dtype == np.float64  # non-persistent buffers move too
    assert net(sn.randn(2, 2, 5, 5, dtype=np.float64)).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())


@pytest.mark.gpu
def test_to_cuda_keeps_parameters_as_the_same_leaves():
    net = Net()
    net(sn.randn(2, 2, 5, 5)).sum().backward()
    params = list(net.parameters())
    net.to("cuda")
    assert all(a is b for a, b in zip(params, net.parameters(), strict=True))
    assert all(
        p.device == "cuda" and p.grad.device == "cuda" and p.is_leaf for p in net.parameters()
    )
    assert all(b.device == "cuda" for b in net.buffers())
    assert net(sn.randn(2, 2, 5, 5).cuda()).device == "cuda"
    assert all(isinstance(v, np.ndarray) for v in net.state_dict().values())
    net.cpu()
    assert all(p.device == "cpu" for p in net.parameters())


# --------------------------------------------------------------------------- state_dict


def test_state_dict_keys_values_and_round_trip():
    net = Net()
    state = net.state_dict()
    assert list(state) == [
        "features.0.scale",
        "features.0.steps",
        "features.0.conv.weight",
        "features.0.bn.weight",
        "features.0.bn.bias",
        "features.0.bn.running_mean",
        "features.0.bn.running_var",
        "features.0.bn.num_batches_tracked",
        "fc.weight",
        "fc.bias",
    ]
    # (the non-persistent buffer "cache" is left out)
    # PyTorch's rule: detached Tensors sharing the parameters' arrays (the dict follows training)
    assert all(isinstance(v, sn.Tensor) and not v.requires_grad for v in state.values())
    assert state["features.0.bn.num_batches_tracked"].dtype == np.int64
    assert np.shares_memory(state["fc.weight"].numpy(), net.fc.weight.detach().numpy())
    # a snapshot, as in PyTorch
    snapshot, original = (
        copy.deepcopy(state),
        net.fc.weight.detach().numpy().copy(),
    )
    with sn.no_grad():
        net.fc.weight.fill_(0.5)
    assert np.all(state["fc.weight"].numpy() == 0.5)  # the live dict follows the model
    np.testing.assert_array_equal(snapshot["fc.weight"].numpy(), original)
    with sn.no_grad():
        net.fc.weight.copy_(original)

    other = Net()
    params = list(other.parameters())
    result = other.load_state_dict(net.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(a is b for a, b in zip(params, other.parameters(), strict=True))  # loaded in place
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key], value)
    x = sn.randn(2, 2, 5, 5)
    net.eval(), other.eval()
    np.testing.assert_array_equal(net(x).array, other(x).array)
    assert net.state_dict(keep_vars=True)["fc.weight"] is net.fc.weight


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    net = Net()
    before = copy.deepcopy(net.state_dict())  # a snapshot: state_dict() shares the arrays
    bad = Net().state_dict()
    del bad["fc.bias"], bad["features.0.bn.running_var"]
    bad["fc.weight"] = np.zeros((5, 4), dtype=np.float32)
    bad["features.0.conv.weight"] = np.zeros((4, 2, 5, 5), dtype=np.float32)
    bad["head.weight"] = np.zeros(3)
    bad["features.0.extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(bad)
    message = str(error.value)
    assert message.startswith("Error(s) in loading state_dict for Net:")
    for text in [
        'Missing key(s) in state_dict: "features.0.bn.running_var", "fc.bias".',
        'Unexpected key(s) in state_dict: "head.weight", "features.0.extra".',
        "size mismatch for features.0.conv.weight: copying a param with shape (4, 2, 5, 5) from "
        "checkpoint, the shape in current model is (4, 2, 3, 3).",
        "size mismatch for fc.weight: copying a param with shape (5, 4)",
    ]:
        assert text in message
    for key, value in net.state_dict().items():  # nothing was copied, not even the valid entries
        np.testing.assert_array_equal(value, before[key])


def test_load_state_dict_non_strict():
    net = Net()
    partial = {"fc.weight": np.ones((3, 4)), "nonsense": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert result.unexpected_keys == ["nonsense"] and "fc.bias" in result.missing_keys
    np.testing.assert_array_equal(net.fc.weight.array, 1)
    assert net.fc.weight.dtype == np.float32  # cast to the parameter's dtype
    with pytest.raises(RuntimeError, match=r"size mismatch for fc\.weight"):
        # shapes are always checked
        net.load_state_dict({"fc.weight": np.ones((4, 4))}, strict=False)


def test_load_state_dict_accepts_tensors():
    a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    b.load_state_dict({"weight": a.weight, "bias": a.bias})
    np.testing.assert_array_equal(a.weight.array, b.weight.array)
    assert a.weight.array is not b.weight.array


# --------------------------------------------------------------------------- hooks


def test_forward_hooks():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(
        lambda m, args, out: seen.append((m, args[0].shape, out.shape))
    )
    x = sn.randn(3, 2)
    layer(x)
    assert seen == [(layer, (3, 2), (3, 2))]
    handle.remove()
    layer(x)
    assert len(seen) == 1
    # A hook's return value replaces the output; a pre-hook's replaces the input.
    with layer.register_forward_hook(lambda m, args, out: out * 0):
        assert (layer(x).array == 0).all()
    assert (layer(x).array != 0).any()
    pre = layer.register_forward_pre_hook(lambda m, args: args[0] * 0)
    np.testing.assert_allclose(layer(x).array, np.broadcast_to(layer.bias.array, (3, 2)))
    pre.remove()


def test_hooks_see_intermediate_feature_maps():
    net = Net()
    maps = {}
    for name, module in net.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            module.register_forward_hook(
                lambda m, args, out, name=name: maps.__setitem__(name, out.shape)
            )
    net(sn.randn(2, 2, 6, 6))
    assert maps == {"features.0.bn": (2, 4, 6, 6)}


# --------------------------------------------------------------------------- repr


def test_repr_is_pytorch_like():
    assert repr(Net()) == (
        "Net(\n"
        "  (features): Sequential(\n"
        "    (0): Block(\n"
        "      (conv): Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)\n"
        "      (bn): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, "
        "track_running_stats=True)\n"
        "    )\n"
        "    (1): ReLU()\n"
        "    (2): AdaptiveAvgPool2d(output_size=1)\n"
        "    (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  )\n"
        "  (fc): Linear(in_features=4, out_features=3, bias=True)\n"
        ")"
    )


def test_repr_matches_torch(torch):
    def build(nn):
        return nn.Sequential(
            nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=1, bias=False),
            nn.BatchNorm2d(8, momentum=None),
            nn.ReLU(inplace=True),
            nn.ReLU6(),
            nn.LeakyReLU(0.2),
            nn.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn.AvgPool2d(2),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.AdaptiveMaxPool2d(2),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(8, 10),
            nn.Identity(),
            nn.Sigmoid(),
            nn.Tanh(),
            nn.Softmax(dim=1),
            nn.LogSoftmax(dim=1),
            nn.ModuleList([nn.Linear(2, 3), nn.ReLU()]),
            nn.ModuleDict({"act": nn.ReLU()}),
            nn.CrossEntropyLoss(),
            nn.MSELoss(),
            nn.Sequential(),
        )

    ours, theirs = repr(build(nn)), repr(build(torch.nn))
    # torch >= 2.13 also prints a `bias=` flag of BatchNorm, which scratchnet does not have.
    assert ours == theirs.replace(", bias=True, track_running_stats", ", track_running_stats")


# --------------------------------------------------------------------------- containers


def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == [b, c]
    assert [name for name, _ in head.named_children()] == ["1", "2"]  # names kept, as PyTorch
    x = sn.randn(4, 2)
    np.testing.assert_array_equal(seq(x).array, c(b(a(x))).array)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    seq[3] = nn.Tanh()
    assert isinstance(seq[3], nn.Tanh)
    del seq[1]
    assert [name for name, _ in seq.named_children()] == ["0", "1", "2"] and seq[1] is c
    with pytest.raises(IndexError, match="index 5 is out of range for 3 modules"):
        seq[5]
    named = nn.Sequential({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    assert named.conv is named[0]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers += [nn.Sigmoid()]
    assert len(layers) == 6 and isinstance(layers[-1], nn.Sigmoid)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and [n for n, _ in layers.named_children()][-1] == "6"
    del layers[0]
    assert isinstance(layers[0], nn.Linear)
    assert "0.weight" in layers.state_dict()
    with pytest.raises(NotImplementedError):
        layers(sn.randn(1, 2))


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.ReLU()})
    d["c"] = nn.Linear(2, 2)
    assert list(d) == ["a", "b", "c"] and len(d) == 3 and "b" in d
    assert list(d.keys()) == ["a", "b", "c"]
    assert [type(v).__name__ for v in d.values()] == ["Linear", "ReLU", "Linear"]
    assert list(d.state_dict()) == ["a.weight", "a.bias", "c.weight", "c.bias"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    d.update([("z", nn.Tanh())])
    assert list(d) == ["a", "c", "z"]
    d.clear()
    assert len(d) == 0


def test_deepcopy_gives_an_independent_model():
    net = Net()
    clone = copy.deepcopy(net)
    assert all(a is not b for a, b in zip(net.parameters(), clone.parameters(), strict=True))
    with sn.no_grad():
        clone.fc.weight.fill_(0)
    assert np.abs(net.fc.weight.array).sum() > 0
    x = sn.randn(2, 2, 5, 5)
    with sn.no_grad():
        # the clone's zeroed weight leaves its bias; the original still computes its own output
        np.testing.assert_array_equal(clone(x).numpy(), np.tile(net.fc.bias.numpy(), (2, 1)))
        features = net.features(x).numpy()
        expected = features @ net.fc.weight.numpy().T + net.fc.bias.numpy()
        np.testing.assert_allclose(net(x).numpy(), expected, rtol=1e-5, atol=1e-6)
