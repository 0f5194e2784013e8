"""Fast paths only: compiled kernels with the signature and memory layout of the NumPy reference they replace.

``numba_cpu`` holds the CPU kernels (im2col, col2im, the layout reorders around the matrix product,
max and average pooling), ``numba_norm`` batch norm's per-channel loops, ``numba_activation`` ReLU's
forward and backward, and ``cupy_gpu`` the first two sets as CUDA kernels for the GPU.
``numba_threads`` compiles each Numba loop nest twice, threaded for large inputs and serial for
small ones. ``scratchnet.backend.fast_kernels_for(x, family)`` picks the module for an array's
device; nothing else imports this package, and no lesson does.
"""
