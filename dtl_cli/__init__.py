"""dtl: deep-transfer-learning experiments across languages, driven by Hydra configs."""

__version__ = "0.1.0"
