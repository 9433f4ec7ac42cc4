"""Every figure of the report, saved one way."""

from ..io import atomic_path


def save_figure(fig, path):
    """A figure as a PNG, written atomically, then closed (the plotting modules chose the backend)."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
