"""The differentiable ops, one family per file; each op is a Function (forward + backward) and a lowercase function."""
