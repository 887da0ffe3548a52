"""Data shipped with dtl (the tiny corpus), installed as the package dtl_cli.data."""
