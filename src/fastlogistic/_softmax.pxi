# Multi-class kernels (softmax, log-softmax, cross-entropy): included by _kernels.pyx.
