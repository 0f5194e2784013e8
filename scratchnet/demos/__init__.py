"""Demos of the lecture's claims, each `python -m scratchnet.demos.<name>` with a main(argv) and figures."""
