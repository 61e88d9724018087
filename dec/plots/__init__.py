"""Plots of dec (matplotlib, Agg backend: no screen needed).

Each function returns a figure with labelled axes and units; the exporter writes it.
Labels carry the input's ids and names as they are: a ``$`` in a member id is a
character, not the start of a TeX formula (mathtext, which raises on ``$x^$``).
"""

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False
