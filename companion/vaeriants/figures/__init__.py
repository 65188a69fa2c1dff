"""Figure scripts: one module per figure of the monograph.

Each module defines
    OUTPUT: the figure's path relative to the repository root (under assets/figures/), and
    make(path, seed=0, quick=False): draw the figure from scratch and write it to `path`.
`make` is a pure function of its arguments: a fixed seed gives the same figure, and
quick=True shrinks the work (fewer epochs, fewer samples) so the test suite can run every
script in seconds. Modules are found by name, so a new script needs no registration.
"""
import importlib
import pkgutil


def figure_modules():
    """Every figure module of this package, sorted by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
