"""Fast paths only: compiled kernels with the signature and memory layout of the NumPy reference they replace.

``numba_cpu`` holds the CPU kernels (im2col, col2im, the layout reorders around the matrix product,
max and average pooling). ``scratchnet.backend.fast_kernels_for(x)`` picks the module for an
array's device; nothing else imports this package, and no lesson does.
"""
