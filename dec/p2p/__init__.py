"""Peer-to-peer energy trading in 24 hourly blocks, checked against the network.

Pipeline (one public function per phase, :mod:`dec.p2p.mode` chains them):

1. :mod:`dec.p2p.settings`: validate the scenario's ``p2p`` section (and the
   command-line overrides) into :class:`~dec.p2p.settings.P2PSettings`.
2. :mod:`dec.p2p.case`: place households and PV units on the feeder and read
   their hourly profiles (:mod:`dec.p2p.profiles`) into a :class:`~dec.p2p.case.P2PCase`.
3. :mod:`dec.p2p.orders`: each trader's hourly net position becomes a buy or a
   sell order priced by a bidding strategy.
4. A market matches them: the double auction (:mod:`dec.p2p.auction`) or the
   bilateral ADMM market (:mod:`dec.p2p.admm_market`), each with its centralized
   reference.
5. :mod:`dec.p2p.dc_check`: a PTDF linear program executes the largest share of
   the trades the lines and transformers can carry.
6. :mod:`dec.p2p.ac_check`: pandapower's AC power flow for every hour, reducing
   executed trades where voltage or loading limits are violated.
7. :mod:`dec.p2p.report`: tables, per-agent records, summary and plots.
"""
