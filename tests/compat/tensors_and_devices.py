"""The tensor tutorial's tour: devices, dtypes, conversions, indexing, and the ops d2l's helpers import."""

import numpy as np
import torch
from corpus_io import report

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cudnn.benchmark = True
torch.backends.cudnn.deterministic = True
cpu = torch.device("cpu")

data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
np_array = np.array(data)
x_np = torch.from_numpy(np_array)
x_ones = torch.ones_like(x_data)
x_rand = torch.rand_like(x_data, dtype=torch.float)

shape = (2, 3)
zeros = torch.zeros(shape, dtype=torch.long)
tensor = torch.arange(12, dtype=torch.float).reshape(3, 4).to(device)

results = {
    "device_str": str(cpu),
    "device_repr": repr(torch.device("cuda:0")),
    "device_eq": [
        torch.device("cuda:0") == torch.device("cuda", 0),
        torch.device("cpu") == torch.device("cuda"),
    ],
    "device_type_index": [torch.device("cuda:1").type, torch.device("cuda:1").index, cpu.index],
    "dtypes": [
        x_data.dtype == torch.int64,
        zeros.dtype == torch.int64,
        tensor.dtype == torch.float32,
    ],
    "type": [
        tensor.type(),
        x_data.type(),
        tensor.type(torch.double).dtype == torch.float64,
        tensor.type("torch.LongTensor").dtype == torch.long,
        tensor.int().dtype == torch.int,
        tensor.double().dtype == torch.double,
        tensor.half().dtype == torch.half,
    ],
    "t": tensor.t().tolist(),
    "first_row": tensor[0].tolist(),
    "last_column": tensor[..., -1].tolist(),
    "matmul": (tensor @ tensor.T).tolist(),
    "eq": tensor.eq(5.0).sum().item(),
    "argmax_axis": torch.argmax(tensor, axis=1).tolist(),
    "sum_keepdims": tensor.sum(axis=0, keepdims=True).tolist(),
    "topk": [v.tolist() for v in torch.topk(tensor, 2, dim=1)],
    "index": [10, 20, 30, 40][torch.tensor(2)],
    "view_as": tensor.view(12).view_as(tensor).shape == tensor.shape,
    "linspace": torch.linspace(0, 1, steps=5).tolist(),
    "trig": [
        torch.sin(tensor[0]).tolist(),
        torch.cos(tensor[0]).tolist(),
        torch.sinh(tensor[0]).tolist(),
        torch.cosh(tensor[0]).tolist(),
    ],
    "meshgrid": [
        g.tolist() for g in torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij")
    ],
    "meshgrid_xy": [
        g.tolist() for g in torch.meshgrid(torch.arange(2), torch.arange(3), indexing="xy")
    ],
    "bmm": torch.bmm(tensor.reshape(1, 3, 4), tensor.reshape(1, 4, 3)).tolist(),
    "normal_shape": list(torch.normal(0.0, 1.0, size=(2, 3)).shape),
    "rand_like": [list(x_rand.shape), x_rand.dtype == torch.float32],
    "numpy_roundtrip": tensor.cpu().numpy().sum().item(),
    "variable": torch.autograd.Variable(torch.ones(2), requires_grad=True).requires_grad,
    "to_forms": [
        tensor.to(cpu, torch.float64).dtype == torch.float64,
        tensor.to(x_data).dtype == torch.int64,
        tensor.to(device="cpu", dtype=torch.float16).dtype == torch.float16,
        tensor.to("cpu", non_blocking=True).shape == tensor.shape,
    ],
    "cudnn": [torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic],
    "wrapped_keys": list(torch.nn.DataParallel(torch.nn.Linear(2, 2)).state_dict().keys()),
}

w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
loss = (torch.sin(w) * torch.cosh(w) + torch.bmm(w.view(1, 1, 3), w.view(1, 3, 1)).sum()).sum()
results["grad_fn_steps"] = [
    len(loss.grad_fn.next_functions),
    len(loss.grad_fn.next_functions[0][0].next_functions),
]
loss.backward()
results["grad"] = w.grad.tolist()
report(**results)
