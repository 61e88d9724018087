"""dec: multi-agent distributed coordination of energy resources on distribution feeders.

The command line (``python -m dec.run``) is a thin shell over importable functions:
:func:`dec.scenario.load_scenario` builds a validated scenario, each mode's ``solve``
function runs a problem and :func:`dec.export.export_result` writes the output folder.
"""

__version__ = "0.1.0"
