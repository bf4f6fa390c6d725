"""Writes catalog.json, the document every realistic function parses at init: a product
catalogue of about 1 MB, the same bytes for every runtime, made from a fixed seed.

    python3 functions/realistic/make_catalog.py      # rewrites each runtime's copy

Each runtime's folder holds its own copy, so that each builds on its own and ships the
document the way that language does (a file in the task root, a jar resource, or embedded
in the executable); the copies are identical, which the tests check.
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNTIMES = ("python", "node", "go", "java", "rust")
# where each runtime's build picks the document up
COPIES = {"python": "catalog.json", "node": "catalog.json", "go": "catalog.json",
          "java": "src/main/resources/catalog.json", "rust": "src/catalog.json"}
PRODUCTS = 2000
WORDS = ("alpine", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor",
         "indigo", "juniper", "kelp", "lagoon", "meadow", "nimbus", "onyx", "prairie",
         "quartz", "river", "sierra", "tundra", "umber", "valley", "willow", "zephyr")
CATEGORIES = ("tools", "garden", "kitchen", "outdoor", "office", "lighting", "storage")
WAREHOUSES = ("dub1", "fra1", "iad1", "pdx1", "sin1")


class Numbers:
    """A 64-bit linear congruential generator (Knuth's MMIX constants): the same sequence
    in every Python, unlike ``random`` across versions."""

    def __init__(self, seed: int):
        self.state = seed

    def next(self, bound: int) -> int:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return (self.state >> 33) % bound


def catalog() -> dict:
    n = Numbers(20261201)
    products = []
    for i in range(PRODUCTS):
        words = [WORDS[n.next(len(WORDS))] for _ in range(3)]
        products.append({
            "id": i + 1,
            "sku": f"SKU-{n.next(10**8):08d}",
            "name": " ".join(w.capitalize() for w in words),
            "category": CATEGORIES[n.next(len(CATEGORIES))],
            "description": " ".join(WORDS[n.next(len(WORDS))] for _ in range(24)),
            "price_cents": 100 + n.next(99_900),
            "currency": "EUR",
            "active": n.next(10) > 0,
            "tags": sorted({WORDS[n.next(len(WORDS))] for _ in range(1 + n.next(5))}),
            "stock": {w: n.next(500) for w in WAREHOUSES},
            "dimensions_mm": {"width": 10 + n.next(990), "height": 10 + n.next(990),
                              "depth": 10 + n.next(990)},
            "rating": round(1 + n.next(4001) / 1000, 3),
        })
    return {"version": 1, "currency_default": "EUR", "products": products}


def render() -> bytes:
    return (json.dumps(catalog()) + "\n").encode()


if __name__ == "__main__":
    data = render()
    for runtime in RUNTIMES:
        path = HERE / runtime / COPIES[runtime]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path.relative_to(HERE)}: {len(data):,} bytes")
