"""Shared look of chapter 2's figures (a private module: the figure registry skips `_` names)."""
import matplotlib

# Okabe-Ito colours, distinguishable with the common forms of colour blindness.
BLACK, ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")

STYLE = {
    "font.size": 10,
    "axes.labelsize": 10,
    "axes.titlesize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",  # glyphs as paths: the math renders the same in every browser
    "svg.hashsalt": "vaeriants",  # stable ids, so a re-run gives the same file
}


def style():
    """A context manager with the chapter's rcParams."""
    return matplotlib.rc_context(STYLE)


def panel_label(ax, letter):
    ax.text(-0.14, 1.04, f"({letter})", transform=ax.transAxes, fontweight="bold", va="bottom")
