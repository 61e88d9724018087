"""Energy-community battery coordination for collective self-consumption (mode ``community``).

Households with batteries share a community PV plant; mechanisms ``none``, ``low-tech``
(rule reacting to the community PV), ``mpc`` (receding-horizon LP of the community's
grid import) and ``mpc-distributed`` (the same problem by ADMM between house agents and
the community agent) are compared on self-production, self-sufficiency and cost.
"""
