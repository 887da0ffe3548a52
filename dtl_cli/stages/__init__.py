"""The pipeline's stages. Each module has `is_cached(cfg, store)` and `run(cfg, store, run_dir)`;
stages never import each other and meet through the store (keys in `keys.py`)."""
