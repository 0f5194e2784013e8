"""Fast paths only: the speed of ``scratchnet/ops/``, the same results, none of the teaching.

``fast_functions`` holds the fast Functions, each a subclass of the reference Function of ops/
(conv2d by chunked im2col into reused buffers, pooling, batch norm in one pass), written once for
every device over a few array kernels. ``numba_cpu`` holds the CPU kernels (im2col, col2im, the
layout reorders around the matrix product, max and average pooling) and binds the window Functions
to them, ``numba_norm`` batch norm's per-channel loops and its Function, ``numba_activation`` ReLU's
forward and backward, and ``cupy_gpu`` all but ReLU as CUDA kernels for the GPU. ``numba_threads``
compiles each Numba loop nest twice, threaded for large inputs and serial for small ones.

``scratchnet.backend.KERNEL_MODULES`` lists every fast kernel; the ops' wrappers ask
``backend.fast_function`` / ``fast_kernel`` for one, and nothing else imports this package.
"""
