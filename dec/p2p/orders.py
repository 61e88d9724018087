"""Orders: each trader's hourly net position becomes a buy or a sell order.

A trader with a deficit (consumption above generation) bids for it, one with a
surplus asks for it; the limit prices come from a bidding strategy. Strategies
are small classes with one method, registered by name in :data:`BIDDING`, so a
new one plugs in without touching the markets:

- ``fixed``: buyers bid the retail price, sellers ask the feed-in price (the
  reference study);
- ``valuation``: each trader has a private value per kWh, drawn once (seeded)
  uniformly between the feed-in and the retail price, and bids or asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

BUY, SELL = -1, 1


@dataclass(frozen=True)
class Tariff:
    """The retailer's prices that bound every P2P price, EUR/kWh."""

    retail_eur_per_kwh: float
    feed_in_eur_per_kwh: float


class BiddingStrategy(Protocol):
    """Turns net positions into limit prices."""

    name: ClassVar[str]

    def limit_prices(
        self, net_kw: np.ndarray, tariff: Tariff, rng: np.random.Generator
    ) -> np.ndarray:
        """Return the limit price of every trader in every hour (hours × traders), EUR/kWh."""
        ...


class FixedPrices:
    """Buyers bid the retail price, sellers ask the feed-in price."""

    name: ClassVar[str] = "fixed"

    def limit_prices(
        self, net_kw: np.ndarray, tariff: Tariff, rng: np.random.Generator
    ) -> np.ndarray:
        """Return retail for deficits and feed-in for surpluses, EUR/kWh."""
        return np.where(net_kw < 0, tariff.retail_eur_per_kwh, tariff.feed_in_eur_per_kwh)


class PrivateValuation:
    """Each trader bids or asks its own value, uniform between feed-in and retail (seeded)."""

    name: ClassVar[str] = "valuation"

    def limit_prices(
        self, net_kw: np.ndarray, tariff: Tariff, rng: np.random.Generator
    ) -> np.ndarray:
        """Return each trader's private value in every hour, EUR/kWh."""
        low, high = tariff.feed_in_eur_per_kwh, tariff.retail_eur_per_kwh
        value = rng.uniform(low, high, size=net_kw.shape[1])
        return np.broadcast_to(value, net_kw.shape).copy()


#: Bidding strategies by name.
BIDDING: dict[str, BiddingStrategy] = {s.name: s for s in (FixedPrices(), PrivateValuation())}


@dataclass(frozen=True)
class OrderBook:
    """Orders of every hour, as arrays (one entry per order).

    Attributes
    ----------
    hour
        Hour of the order.
    trader
        Index of the trader placing it.
    side
        ``BUY`` (-1) or ``SELL`` (+1).
    quantity_kw
        Power bought or sold over the hour, kW (> 0).
    price_eur_per_kwh
        Limit price: the most a buyer pays, the least a seller accepts, EUR/kWh.

    """

    hour: np.ndarray
    trader: np.ndarray
    side: np.ndarray
    quantity_kw: np.ndarray
    price_eur_per_kwh: np.ndarray

    def __len__(self) -> int:
        return len(self.hour)

    def select(self, mask: np.ndarray) -> OrderBook:
        """Return the orders where ``mask`` is true."""
        return OrderBook(
            self.hour[mask],
            self.trader[mask],
            self.side[mask],
            self.quantity_kw[mask],
            self.price_eur_per_kwh[mask],
        )

    def bids(self) -> OrderBook:
        """Return the buy orders."""
        return self.select(self.side == BUY)

    def asks(self) -> OrderBook:
        """Return the sell orders."""
        return self.select(self.side == SELL)

    def of_hour(self, hour: int) -> OrderBook:
        """Return the orders of one hour."""
        return self.select(self.hour == hour)


def make_orders(net_kw: np.ndarray, limit_price: np.ndarray, min_order_kw: float) -> OrderBook:
    """Turn net positions into orders.

    Parameters
    ----------
    net_kw
        Net position of every trader in every hour (hours × traders, generation positive), kW.
    limit_price
        Limit price of every trader in every hour (same shape), EUR/kWh.
    min_order_kw
        Positions smaller than this (in absolute value) place no order, kW.

    Returns
    -------
    OrderBook
        Ordered by hour, then trader.

    """
    hour, trader = np.nonzero(np.abs(net_kw) >= max(min_order_kw, np.finfo(float).tiny))
    position = net_kw[hour, trader]
    return OrderBook(
        hour=hour,
        trader=trader,
        side=np.where(position > 0, SELL, BUY),
        quantity_kw=np.abs(position),
        price_eur_per_kwh=limit_price[hour, trader].astype(float),
    )
