"""The report: accuracy tables and figures per trait and model, speedups per strategy."""
