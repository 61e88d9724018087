"""``rec_op_lem_prices.pricing_mechanisms.helpers.pricing_helpers`` names."""

from dec.rec.pricing import make_offers

__all__ = ["make_offers"]
