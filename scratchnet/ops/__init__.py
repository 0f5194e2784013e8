"""The differentiable ops, one family per file; each op is a Function (forward + backward) and a
lowercase function. ``tensor_methods`` gives Tensor its operators and methods (``x + y``,
``x.sum()``), which call these ops; importing this package installs them.
"""

from scratchnet.ops import tensor_methods
