"""dtl's Hydra configs, installed as the package dtl_cli.configs."""
