"""Fast paths only: compiled kernels with the signature and memory layout of the NumPy reference they replace.

``numba_cpu`` holds the CPU kernels (im2col, col2im, the layout reorders around the matrix product,
max and average pooling), ``numba_norm`` batch norm's per-channel loops, and ``cupy_gpu`` the same
two sets as CUDA kernels for the GPU. ``scratchnet.backend.fast_kernels_for(x, family)`` picks the
module for an array's device; nothing else imports this package, and no lesson does.
"""
