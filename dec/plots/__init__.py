"""Plots of dec (matplotlib, Agg backend: no screen needed).

Each function returns a figure with labelled axes and units; the exporter writes it.
"""

import matplotlib

matplotlib.use("Agg")
