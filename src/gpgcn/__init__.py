"""gpgcn: genomic prediction of flowering time with graph convolutional networks."""

__version__ = "0.1.0"
