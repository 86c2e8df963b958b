"""Plans and their limits, as in the product Kizuna is modelled on.

Free: one product, one published tutorial. Light: up to five products, tutorials without limit.
Checklists and surveys count against neither. A limit is checked when something would pass it
(creating a product, publishing a tutorial), never by taking away what exists.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    products: int | None  # None: no limit
    published_tutorials: int | None


PLANS = {
    "free": Plan("Free", products=1, published_tutorials=1),
    "light": Plan("Light", products=5, published_tutorials=None),
}
