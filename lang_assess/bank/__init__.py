"""Reading item banks and parameter files into the engine's arrays (the I/O side)."""

from lang_assess.bank.params_csv import read_params_csv, read_thetas_csv, write_params_csv

__all__ = ["read_params_csv", "read_thetas_csv", "write_params_csv"]
