"""Label-free adaptation to the target domain: label-shift correction and self-training.

Plain NumPy in, plain NumPy out; the classifiers are passed in as callables.
"""
