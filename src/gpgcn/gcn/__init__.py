"""The graph convolutional network: its modules, its training problem, the training core, the
parallel strategies and the job that times them."""
