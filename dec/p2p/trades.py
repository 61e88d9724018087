"""Bilateral trades: what a market returns and the network checks execute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Share of a pair's network charge its buyer pays (the seller pays the rest), as the ADMM
#: market's agents value it (:mod:`dec.p2p.admm_market`: bid less half, ask plus half).
BUYER_CHARGE_SHARE = 0.5


@dataclass(frozen=True)
class Trades:
    """Bilateral trades of every hour, as arrays (one entry per trade).

    Attributes
    ----------
    hour
        Hour of the trade.
    buyer, seller
        Trader indices.
    quantity_kw
        Power delivered over the hour, kW (energy in kWh for 1-hour blocks).
    price_eur_per_kwh
        Price the buyer pays the seller, EUR/kWh (each side also pays half the network
        charge to the network operator).
    bid_eur_per_kwh, ask_eur_per_kwh
        The buyer's and the seller's limit prices, EUR/kWh.
    charge_eur_per_kwh
        Network usage charge of the pair, EUR/kWh (0 without one): the trade's welfare is
        (bid − ask − charge) × quantity.

    """

    hour: np.ndarray
    buyer: np.ndarray
    seller: np.ndarray
    quantity_kw: np.ndarray
    price_eur_per_kwh: np.ndarray
    bid_eur_per_kwh: np.ndarray
    ask_eur_per_kwh: np.ndarray
    charge_eur_per_kwh: np.ndarray

    def __len__(self) -> int:
        return len(self.hour)

    @classmethod
    def empty(cls) -> Trades:
        """Return no trades."""
        ints, floats = np.zeros(0, dtype=int), np.zeros(0)
        return cls(ints, ints, ints, floats, floats, floats, floats, floats)

    @classmethod
    def concat(cls, parts: Sequence[Trades]) -> Trades:
        """Join trades of several hours."""
        if not parts:
            return cls.empty()
        return cls(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in (
                    "hour",
                    "buyer",
                    "seller",
                    "quantity_kw",
                    "price_eur_per_kwh",
                    "bid_eur_per_kwh",
                    "ask_eur_per_kwh",
                    "charge_eur_per_kwh",
                )
            )
        )

    def welfare_eur(self) -> float:
        """Gains from trade net of network charges, Σ (bid − ask − charge) × quantity × 1 h, EUR."""
        margin = self.bid_eur_per_kwh - self.ask_eur_per_kwh - self.charge_eur_per_kwh
        return float(np.sum(margin * self.quantity_kw))

    def buyer_price_eur_per_kwh(self) -> np.ndarray:
        """Return what the buyer pays per kWh: the price plus its share of the charge."""
        return self.price_eur_per_kwh + BUYER_CHARGE_SHARE * self.charge_eur_per_kwh

    def seller_price_eur_per_kwh(self) -> np.ndarray:
        """Return what the seller keeps per kWh: the price less its share of the charge."""
        return self.price_eur_per_kwh - (1.0 - BUYER_CHARGE_SHARE) * self.charge_eur_per_kwh

    def of_hour(self, hour: int) -> np.ndarray:
        """Return the positions of the trades of one hour."""
        return np.flatnonzero(self.hour == hour)
