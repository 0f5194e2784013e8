"""Demos of the lecture's claims: `python -m scratchnet.demos.<name>`, main(argv) and figures."""
