"""The cost bound of a plan on AWS Lambda, against figures computed by hand from the
price table (us-east-1, 2026-12)."""

import dataclasses
from datetime import date

import pytest

from coldbench.errors import UsageError
from coldbench.targets.aws.estimate import PRICE_TABLE, Deployment, Invocations, describe, estimate, prices


def test_the_bound_reads_the_newest_dated_table():
    table = prices()
    assert table.name == PRICE_TABLE == "prices-2026-12.csv"
    assert table.as_of == date(2026, 12, 1) and table.region == "us-east-1"
    assert table.request == pytest.approx(0.20 / 1_000_000)


def test_on_demand_cold_and_warm():
    # 2 cold + 3 warm samples, each warm sample may need a replacement cold start:
    # requests 2 + 3 + 3 = 8 -> 8 x $0.20/1M = $0.0000016
    # cold starts 5 x (10 s init + 10 s timeout) + warm 3 x 10 s = 130 s x 0.125 GB
    #   = 16.25 GB-s x $0.0000166667 = $0.000270833875
    e = estimate([Deployment("python3.12", 128, "x86_64")], Invocations(2, 3, 0, 10.0), "us-east-1")
    assert (e.invocations, e.max_invocations) == (5, 8)
    assert e.requests_usd == pytest.approx(0.0000016)
    assert e.duration_gb_s == pytest.approx(16.25)
    assert e.duration_usd == pytest.approx(0.000270833875)
    assert e.total_usd == pytest.approx(0.000272433875)
    assert e.notes == []


def test_provisioned_concurrency_on_arm():
    # 1 cold, 2 provisioned at 1,024 MB arm64, timeout 5 s:
    # requests 1 + 2 = 3 -> $0.0000006
    # duration 1 x (10 + 5) s x 1 GB = 15 GB-s x $0.0000133334 = $0.000200001
    # allocations 2 x 1,200 s (a multiple of 5 min) x 1 GB = 2,400 GB-s x $0.0000033334
    #   = $0.00800016; their invocations 2 x 5 s x 1 GB x $0.0000077778 = $0.000077778
    e = estimate([Deployment("nodejs20.x", 1024, "arm64")], Invocations(1, 0, 2, 5.0), "us-east-1")
    assert e.provisioned_allocations == 2 and e.provisioned_gb_s == pytest.approx(2400)
    assert e.provisioned_usd == pytest.approx(0.00800016 + 0.000077778)
    assert e.total_usd == pytest.approx(0.0000006 + 0.000200001 + 0.00800016 + 0.000077778)


def test_snapstart_costs_for_python_not_for_java():
    # 2 cold samples at 2,048 MB x86_64, timeout 3 s, each a published version:
    # duration 2 x (10 + 3) s x 2 GB = 52 GB-s, publishing 2 x 10 s x 2 GB = 40 GB-s:
    #   92 GB-s x $0.0000166667 = $0.0015333364
    # python: cache 2 x 10,800 s (3-hour minimum) x 2 GB x $0.0000015046 = $0.06499872,
    #   restores 2 x 2 GB x $0.0001397998 = $0.0005591992
    plan = Invocations(2, 0, 0, 3.0)
    python = estimate([Deployment("python3.12", 2048, "x86_64", snapstart=True)], plan, "us-east-1")
    assert python.duration_usd == pytest.approx(0.0015333364)
    assert python.snapstart_usd == pytest.approx(0.06499872 + 0.0005591992)
    assert python.total_usd == pytest.approx(0.0000004 + 0.0015333364 + 0.06499872 + 0.0005591992)
    java = estimate([Deployment("java21", 2048, "x86_64", snapstart=True)], plan, "us-east-1")
    assert java.snapstart_usd == 0 and java.snapstart_versions == 2
    assert java.total_usd == pytest.approx(0.0000004 + 0.0015333364)


def test_configurations_add_up_and_other_regions_are_flagged():
    one = estimate([Deployment("python3.12", 512, "x86_64")], Invocations(10, 20, 0, 60), "us-east-1")
    two = estimate([Deployment("python3.12", 512, "x86_64")] * 2, Invocations(10, 20, 0, 60),
                   "eu-west-1")
    assert two.total_usd == pytest.approx(2 * one.total_usd)
    assert "us-east-1" in two.notes[0] and "eu-west-1" in two.notes[0]


def test_the_estimate_reads_item_by_item():
    e = estimate([Deployment("python3.12", 128, "x86_64")], Invocations(2, 3, 1, 10.0), "us-east-1")
    text = "\n".join(describe(e))
    assert "6 planned, at most 9" in text
    assert "provisioned concurrency: 1 allocations" in text
    # by hand, us-east-1 x86_64 prices of 2026-12, 128 MB = 0.125 GB: 9 requests at $0.20 a
    # million; 16.25 GB-s of duration (13 spans of 10 s) at $0.0000166667; the provisioned
    # allocation, 20 min = 150 GB-s at $0.0000041667, and its invocation's 1.25 GB-s at
    # $0.0000097222
    by_hand = (9 * 0.20 / 1e6 + 16.25 * 0.0000166667 + 150 * 0.0000041667
               + 1.25 * 0.0000097222)
    assert e.total_usd == pytest.approx(by_hand, rel=1e-6)
    assert "total: at most $0.00091 " in text and "2026-12" in text
    assert "at the first tier's rate (a run is far below the monthly tiers)" in text


def test_init_billed_by_the_tables_date():
    # 1 cold start, python3.12 at 1,024 MB, timeout 1 s: Init billed from 2025-08-01
    # (10 s + 1 s = 11 GB-s), not before on a managed runtime (1 GB-s); always on provided.*
    plan, now = Invocations(1, 0, 0, 1.0), prices()
    older = dataclasses.replace(now, as_of=date(2025, 7, 1))
    python = [Deployment("python3.12", 1024, "x86_64")]
    assert estimate(python, plan, "us-east-1", now).duration_gb_s == pytest.approx(11)
    assert estimate(python, plan, "us-east-1", older).duration_gb_s == pytest.approx(1)
    go = [Deployment("provided.al2023", 1024, "x86_64")]
    assert estimate(go, plan, "us-east-1", older).duration_gb_s == pytest.approx(11)


def test_a_table_without_provisioned_prices_cannot_bound_a_provisioned_plan():
    table = dataclasses.replace(prices(), provisioned_concurrency={})
    with pytest.raises(UsageError, match="no provisioned concurrency prices"):
        estimate([Deployment("python3.12", 128, "x86_64")], Invocations(0, 0, 1, 1.0), "us-east-1",
                 table)


def test_images_pushed_to_ecr_are_stored_for_at_most_a_month():
    # two images of 600 MB (600 x 2^20 bytes) each: 1,200 / 1,024 GB x $0.10 a GB-month
    #   = $0.1171875, each counted for a whole month
    zips = estimate([Deployment("python3.12", 128, "x86_64")], Invocations(2, 3, 0, 10.0), "us-east-1")
    images = estimate([Deployment("python3.12", 128, "x86_64")], Invocations(2, 3, 0, 10.0),
                      "us-east-1", image_bytes=[600 * 1024 ** 2] * 2)
    assert zips.ecr_usd == 0 and zips.images == 0
    assert images.images == 2 and images.ecr_gb_months == pytest.approx(1200 / 1024)
    assert images.ecr_usd == pytest.approx(0.1171875)
    assert images.total_usd == pytest.approx(zips.total_usd + 0.1171875)
    text = "\n".join(describe(images))
    assert "ECR storage: 2 images, 1.172 GB at $0.1 per GB-month" in text
    assert "ECR" not in "\n".join(describe(zips))


def test_the_plan_states_snapstart_cache_and_restore_charges():
    e = estimate([Deployment("python3.12", 2048, "x86_64", snapstart=True)], Invocations(2, 0, 0, 3.0),
                 "us-east-1")
    text = "\n".join(describe(e))
    assert "charged for python and dotnet (not Java)" in text
    assert "cache: $0.0000015046 per GB-s, each snapshot for at least 3 h" in text
    assert "restores: $0.0001397998 per GB restored: 4.00 GB" in text
