"""Multi-class functions: softmax, log-softmax, categorical cross-entropy."""
__all__ = []
