"""The realistic coldbench function (contract: functions/README.md; what it does at
init: functions/realistic/README.md)."""

import hashlib
import os
import platform
import secrets
from pathlib import Path

import boto3
from pydantic import BaseModel, Field, NonNegativeInt

BUF = bytes(i % 256 for i in range(4096))
INSTANCE_ID = secrets.token_hex(8)
INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
invocations = 0


class Event(BaseModel):
    work: NonNegativeInt = 0


class Stock(BaseModel):
    dub1: int
    fra1: int
    iad1: int
    pdx1: int
    sin1: int


class Product(BaseModel):
    id: int
    sku: str
    name: str
    category: str
    description: str
    price_cents: int = Field(gt=0)
    currency: str
    active: bool
    tags: list[str]
    stock: Stock
    dimensions_mm: dict[str, int]
    rating: float


class Catalog(BaseModel):
    version: int
    products: list[Product]


# Region and credentials from the environment, as Lambda sets them; no request is made
# until the client is used.
S3 = boto3.client("s3")
CATALOG = Catalog.model_validate_json((Path(__file__).parent / "catalog.json").read_bytes())


def handler(event, context):
    global invocations
    invocations += 1
    work = Event.model_validate(event or {}).work
    state = b""
    for _ in range(work):
        state = hashlib.sha256(state + BUF).digest()
    return {
        "runtime": "python",
        "runtime_version": platform.python_version(),
        "cold": invocations == 1 and INITIALIZATION_TYPE != "provisioned-concurrency",
        "instance_id": INSTANCE_ID,
        "invocation": invocations,
        "initialization_type": INITIALIZATION_TYPE,
        "work": work,
        "digest": state.hex(),
        "catalog_products": len(CATALOG.products),
        "sdk_region": S3.meta.region_name,
    }
