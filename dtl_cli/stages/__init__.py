"""The pipeline's stages. Each stage module (pretrain, map, finetune, evaluate) has
`is_cached(cfg, store)` and `run(cfg, store, run_dir)`; stages never import each other and meet
through the store (keys in `keys.py`). `common.py` and `vectors.py` (the store's binary copy of
pretrained vectors) are helpers the stages share."""
