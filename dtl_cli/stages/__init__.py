"""The pipeline's stages. Each stage module (pretrain, map, finetune, evaluate) has
`is_cached(cfg, store)` and `run(cfg, store, run_dir)`; stages never import each other and meet
through the store, whose entries (files, keys, writers, readers) `entries.py` owns.
`common.py` and `options.py` are helpers the stages share."""
