"""Cost figures against values computed by hand from a small price table."""

import dataclasses
import json
import re
from datetime import date

import pytest

from coldbench import phases
from coldbench import prices as price_tables
from coldbench.analysis import cost
from coldbench.errors import UsageError
from coldbench.model import Variant
from coldbench.render import cost as cost_tables
from conftest import make_sample, run_cli

PRICES = """\
service,item,purchase,arch,unit,usd,vcpus,memory_gb,source
lambda,requests,on-demand,any,per 1M requests,0.20,,,t
lambda,duration,on-demand,x86_64,per GB-second,0.0000166667,,,t
lambda,duration,on-demand,arm64,per GB-second,0.0000133334,,,t
fargate,vcpu,on-demand,x86_64,per vCPU-hour,0.04048,,,t
fargate,memory,on-demand,x86_64,per GB-hour,0.004445,,,t
fargate,vcpu,on-demand,arm64,per vCPU-hour,0.03238,,,t
fargate,memory,on-demand,arm64,per GB-hour,0.00356,,,t
vm,m6a.large,reserved-1yr-no-upfront,x86_64,per hour,0.057155,2,8,t
"""


def prices(as_of=date(2026, 11, 1)):
    return price_tables.parse(PRICES, as_of)


def samples(runtime="python", memory=1024):
    """Warm Durations 9.2 and 9.8 ms (billed 10 each); one cold start: init 190.3 + 9.5 ms."""
    config = dict(runtime=runtime, memory_mb=memory)
    return [make_sample(**config, mode="warm", duration_ms=9.2),
            make_sample(**config, mode="warm", duration_ms=9.8),
            make_sample(**config, init_ms=190.3, duration_ms=9.5)]


def test_billed_durations_follow_the_price_tables_init_rule():
    [m] = cost.measured(samples(), prices())
    assert (m.warm_ms, m.warm_billed_ms, m.cold_billed_ms) == (pytest.approx(9.5), 10, 200)
    assert m.cold_init_ms == 200 - 10
    # before 2025-08-01 a managed runtime's init was not billed; an OS-only runtime's was
    [before] = cost.measured(samples(), prices(date(2025, 6, 1)))
    assert (before.cold_billed_ms, before.cold_init_ms) == (10, 0)
    [go] = cost.measured(samples(runtime="go"), prices(date(2025, 6, 1)))
    assert go.cold_billed_ms == 200


def test_variants_are_costed_apart():
    arm, x86 = samples(), samples()
    for s in arm:
        s.variant = Variant(architecture="arm64")
        s.duration_ms *= 2
    for s in x86:
        s.variant = Variant(architecture="x86_64")
    found = cost.measured(arm + x86, prices())
    # warm Durations 18.4 and 19.6 ms bill 19 and 20 ms on arm64; 9.2 and 9.8 bill 10 on x86_64
    assert [(m.label, m.warm_billed_ms) for m in found] == [("python arm64", 19.5),
                                                            ("python x86_64", 10)]


def test_lambda_cost_by_hand():
    [m] = cost.measured(samples(), prices())
    # billed ms = 0.99 x 10 + 0.01 x 200 = 11.9; GB-s = 1 GB x 0.0119 s
    per_request = 0.20 / 1e6 + 0.0119 * 0.0000166667
    assert cost.lambda_per_request(m, "x86_64", prices(), 0.01) == pytest.approx(per_request)
    [x86, arm] = cost.costs([m], prices(), cost.Workload(10_000_000))
    assert x86.lambda_monthly == pytest.approx(10_000_000 * per_request)       # $3.98
    assert x86.lambda_monthly == pytest.approx(3.9833, abs=1e-4)
    assert x86.lambda_init_monthly == pytest.approx(10_000_000 * 0.01 * 0.190 * 0.0000166667)
    assert arm.lambda_monthly == pytest.approx(10_000_000 * (0.2e-6 + 0.0119 * 0.0000133334))


def test_fargate_sizing_crossover_and_busy_share_by_hand():
    [m] = cost.measured(samples(), prices())
    [x86] = cost.costs([m], prices(), cost.Workload(10_000_000), arches=("x86_64",))
    fargate = x86.option("fargate")
    # 1024 MB on Lambda = 0.579 vCPU: the smallest Fargate task above it is 1 vCPU / 2 GB
    assert cost_tables.host_text(fargate) == "1 vCPU / 2 GB" and fargate.environments == 1
    hourly = 1 * 0.04048 + 2 * 0.004445                                        # $0.04937
    assert fargate.monthly == pytest.approx(hourly * 730)                     # $36.04
    break_even = hourly * 730 / x86.per_request                                # 90.5M
    assert fargate.crossover == pytest.approx(break_even)
    assert fargate.crossover == pytest.approx(90.476e6, rel=1e-3)
    # busy share there: 90.5M x 9.5 ms over one environment's month (2,628,000 s)
    assert fargate.busy_at_crossover == pytest.approx(break_even * 0.0095 / 2_628_000)
    assert cost_tables.rule_verdict(fargate.busy_at_crossover, 0.8) == "fails: containers win from 33% busy already"
    vm = x86.option("vm", "reserved")
    # m6a.large holds min(2 / 0.579, 8 / 1) = 3 environments; paid all 730 hours
    assert (vm.environments, vm.hosts, vm.monthly) == (3, 1, pytest.approx(0.057155 * 730))


def test_small_functions_share_a_task_and_more_load_adds_hosts():
    [m] = cost.measured(samples(memory=128), prices())
    assert cost.fargate_task(128, prices(), "x86_64") == (0.25, 0.5)
    assert cost.environments_per_host(0.25, 0.5, 128) == 3        # 0.25 / (128/1769) = 3.45
    heavy = cost.Workload(2_000_000_000, max_busy=0.8)
    [line] = cost.costs([m], prices(), heavy, arches=("x86_64",))
    capacity = 3 * 730 * 3600 * 0.8 / 0.0095                      # requests a task serves
    assert line.option("fargate").hosts == -(-2_000_000_000 // int(capacity))


def test_the_duty_cycle_scales_containers_but_not_a_reserved_vm():
    [m] = cost.measured(samples(), prices())
    [steady] = cost.costs([m], prices(), cost.Workload(1_000_000), arches=("x86_64",))
    [office] = cost.costs([m], prices(), cost.Workload(1_000_000, duty_cycle=0.25), arches=("x86_64",))
    assert office.option("fargate").monthly == pytest.approx(steady.option("fargate").monthly / 4)
    assert office.option("vm").monthly == steady.option("vm").monthly
    assert office.lambda_monthly == steady.lambda_monthly
    # the same break-even busy share on Fargate; a VM idle 75 % of the month needs 4x
    assert office.option("fargate").busy_at_crossover == pytest.approx(steady.option("fargate").busy_at_crossover)
    assert office.option("vm").busy_at_crossover == pytest.approx(4 * steady.option("vm").busy_at_crossover)


def test_rule_of_thumb_verdicts():
    assert cost_tables.rule_verdict(0.45, 0.8).startswith("holds")
    assert cost_tables.rule_verdict(0.10, 0.8) == "fails: containers win from 10% busy already"
    assert cost_tables.rule_verdict(0.75, 0.8) == "fails: Lambda stays cheaper up to 75% busy"
    assert cost_tables.rule_verdict(0.95, 0.8).startswith("fails: Lambda is cheaper at any load")


def test_the_shipped_price_table_is_dated_and_complete():
    table = price_tables.load()
    assert table.as_of >= date(2026, 11, 1) and table.name.startswith("prices-")
    assert table.request == pytest.approx(0.20 / 1e6)
    assert table.gb_second == {"x86_64": 0.0000166667, "arm64": 0.0000133334}
    assert {vm.purchase for vm in table.vms} >= {"on-demand", "reserved-1yr-no-upfront"}
    assert phases.init_billed(table.as_of, "python3.12")
    assert price_tables.load("2026-12") == table
    assert price_tables.load("2026-11").duration_tiers["x86_64"] == ((0.0, 0.0000166667),)
    # the AWS target's cost bound reads its rates from this one table too
    assert table.provisioned_concurrency == {"x86_64": 0.0000041667, "arm64": 0.0000033334}
    assert table.provisioned_gb_second == {"x86_64": 0.0000097222, "arm64": 0.0000077778}
    assert (table.snapstart_cache_gb_second, table.snapstart_restore_gb) == (0.0000015046,
                                                                             0.0001397998)
    assert any("aws.amazon.com/lambda/pricing" in line for line in table.sources)


def test_a_price_table_is_named_by_month_or_file(tmp_path):
    with pytest.raises(UsageError, match="choose from 2026-11"):
        price_tables.load("2019-01")
    mine = tmp_path / "prices-2025-06.csv"
    mine.write_text(PRICES)
    assert price_tables.load(mine) == dataclasses.replace(prices(date(2025, 6, 1)),
                                                          name=mine.name)
    with pytest.raises(UsageError, match="incomplete or malformed"):
        price_tables.parse(PRICES.replace("lambda,requests", "lambda,asks"), date(2026, 11, 1))


@pytest.mark.parametrize("amount, text", [
    (None, "-"), (0, "$0"), (0.000272433875, "$0.00027"), (0.0123, "$0.012"), (0.5, "$0.50"),
    (3.456, "$3.46"), (36.04, "$36.04"), (1234.5, "$1,234"), (2_500_000, "$2,500,000")])
def test_money_is_written_one_way(amount, text):
    assert price_tables.usd(amount) == text


def test_the_command_prices_a_saved_run(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema_version": 1, "run": {"target": "local"},
                                "samples": [s.to_json() for s in samples()]}))
    result = run_cli("cost", path, "--requests-per-month", "10M", "--arch", "x86_64",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    [line] = json.loads(result.stdout)["configurations"]
    rate = price_tables.load().gb_second["x86_64"]
    assert line["lambda_monthly"] == pytest.approx(10e6 * (0.2e-6 + 0.0119 * rate))
    assert (line["runtime"], line["memory_mb"], line["variant"]) == ("python", 1024, None)
    table = run_cli("cost", path, "--requests-per-month", "10M", "--duty-cycle", "25%")
    assert table.returncode == 0 and "Crossover" in table.stdout and "arm64" in table.stdout
    bad = run_cli("cost", path, "--requests-per-month", "10M", "--duty-cycle", "0")
    assert bad.returncode == 2 and "--duty-cycle" in bad.stderr


# -- the whole bill: tiers, provisioned concurrency, SnapStart, ECR ------------------------

# the rows of prices-2026-12.csv these charges read, written out (rates of us-east-1)
WHOLE_BILL = PRICES + """\
lambda,duration-over-6b,on-demand,x86_64,per GB-second over 6 billion GB-s a month,0.000015,,,t
lambda,duration-over-15b,on-demand,x86_64,per GB-second over 15 billion GB-s a month,0.0000133334,,,t
lambda,concurrency,provisioned,x86_64,per GB-second,0.0000041667,,,t
lambda,duration,provisioned,x86_64,per GB-second,0.0000097222,,,t
lambda,snapstart-cache,on-demand,any,per GB-second,0.0000015046,,,t
lambda,snapstart-restore,on-demand,any,per GB restored,0.0001397998,,,t
ecr,storage,on-demand,any,per GB-month,0.10,,,t
"""


def whole_bill():
    return price_tables.parse(WHOLE_BILL, date(2026, 12, 1))


def bill(m, requests, **workload):
    return cost.lambda_bill(m, "x86_64", whole_bill(), cost.Workload(requests, **workload),
                            requests)


def test_duration_tiers_across_their_boundaries():
    [m] = cost.measured(samples(), whole_bill())
    # 0.0119 GB-s a request (1 GB x 11.9 billed ms): 1e12 requests are 11.9 billion GB-s,
    # 6 billion in the first tier, 5.9 billion in the second
    first = bill(m, 1e12)
    assert first.on_demand_gb_s == pytest.approx(11.9e9)
    assert first.duration == pytest.approx(6e9 * 0.0000166667 + 5.9e9 * 0.000015)   # $188,500
    assert first.requests == pytest.approx(1e12 * 0.20 / 1e6)
    # 2e12 requests: 23.8 billion GB-s, 8.8 billion of them over 15 billion
    third = bill(m, 2e12)
    assert third.duration == pytest.approx(6e9 * 0.0000166667 + 9e9 * 0.000015
                                           + 8.8e9 * 0.0000133334)                   # $352,334
    # below the first boundary the tiers change nothing
    assert bill(m, 1e6).duration == pytest.approx(1e6 * 0.0119 * 0.0000166667)
    # the init share of a tiered bill: 1.9 of the 11.9 GB-s per 1,000 requests... in proportion
    assert first.init == pytest.approx(first.duration * (0.01 * 0.190) / 0.0119)


def test_provisioned_concurrency_allocation_and_the_requests_it_serves():
    [m] = cost.measured(samples(), whole_bill())
    # one 1 GB environment kept the whole month (2,628,000 s): allocation
    # 2,628,000 GB-s x $0.0000041667 = $10.9500876; it serves 1M requests of 10 billed ms:
    # 10,000 GB-s x $0.0000097222 = $0.097222; none on demand
    kept = bill(m, 1e6, provisioned=1)
    assert kept.provisioned == pytest.approx(2_628_000 * 0.0000041667)
    assert kept.provisioned_duration == pytest.approx(1e6 * 0.010 * 0.0000097222)
    assert kept.provisioned_requests == 1e6 and kept.duration == 0 and kept.init == 0
    assert kept.total == pytest.approx(0.2 + 10.9500876 + 0.097222)
    # it can serve 2,628,000 s x 80 % busy / 9.5 ms = 221.3M requests; the rest on demand
    capacity = 2_628_000 * 0.8 / 0.0095
    spill = bill(m, 300e6, provisioned=1)
    assert spill.provisioned_requests == pytest.approx(capacity)
    assert spill.duration == pytest.approx((300e6 - capacity) * 0.0119 * 0.0000166667)
    # kept in the hours with traffic only: a 25 % duty cycle allocates a quarter
    office = bill(m, 1e6, provisioned=1, duty_cycle=0.25)
    assert office.provisioned == pytest.approx(2_628_000 / 4 * 0.0000041667)


def snapstart_samples(runtime):
    found = samples(runtime=runtime)
    for s in found:
        s.variant = Variant(architecture="x86_64", snapstart=True)
    found[-1].init_ms, found[-1].extra["billed_restore_ms"] = 190.3, 150.0   # a restore
    return found


def test_snapstart_cache_and_restores_for_python_not_for_java():
    [python] = cost.measured(snapstart_samples("python"), whole_bill())
    assert python.snapstart and python.cold_billed_ms == 160       # 9.5 + 150, rounded up
    # cache: 1 GB x 730 h x 3,600 s x $0.0000015046 = $3.95409; restores: 10M x 1 % cold
    # x 1 GB x $0.0001397998 = $13.97998
    month = bill(python, 10e6)
    assert month.snapstart_cache == pytest.approx(730 * 3600 * 0.0000015046)
    assert month.snapstart_restore == pytest.approx(10e6 * 0.01 * 0.0001397998)
    # cached 1 hour a month is billed as the 3-hour minimum
    assert bill(python, 10e6, snapstart_hours=1).snapstart_cache == \
        pytest.approx(3 * 3600 * 0.0000015046)
    [java] = cost.measured(snapstart_samples("java"), whole_bill())
    assert java.snapstart
    assert bill(java, 10e6).snapstart_cache == bill(java, 10e6).snapstart_restore == 0


def test_ecr_storage_of_image_packages():
    images = samples()
    for s in images:
        s.extra["package_type"] = "image"
    run = {"images": {"python": {"size": 300 * 1024 ** 2}}}        # 300 MB
    [image] = cost.measured(images, whole_bill(), cost.image_sizes(run))
    # 300 / 1,024 GB x $0.10 per GB-month = $0.029296875, whatever the load
    assert bill(image, 0).ecr == bill(image, 10e6).ecr == pytest.approx(300 / 1024 * 0.10)
    [zipped] = cost.measured(samples(), whole_bill(), cost.image_sizes(run))
    assert zipped.image_gb is None and bill(zipped, 10e6).ecr == 0
    [given] = cost.measured(samples(), whole_bill(), image_gb=0.5)      # --image-size 512
    assert bill(given, 10e6).ecr == pytest.approx(0.05)


def test_fixed_charges_move_the_crossover():
    [m] = cost.measured(samples(), whole_bill())
    workload = cost.Workload(10_000_000, provisioned=1)
    [line] = cost.costs([m], whole_bill(), workload, arches=("x86_64",))
    fargate = line.option("fargate")
    # Lambda's month at N requests (all served by the one provisioned environment up to
    # 221M): 10.9500876 + N x (0.2e-6 + 0.010 x 0.0000097222); equal to Fargate's $36.04 at
    hourly = 1 * 0.04048 + 2 * 0.004445
    n = (hourly * 730 - 2_628_000 * 0.0000041667) / (0.2e-6 + 0.010 * 0.0000097222)
    assert fargate.crossover == pytest.approx(n, rel=1e-6)


def test_the_command_prints_every_charge(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema_version": 1, "run": {"target": "local"},
                                "samples": [s.to_json() for s in samples()]}))
    result = run_cli("cost", path, "--requests-per-month", "10M", "--arch", "x86_64",
                     "--provisioned", "1", "--image-size", "512")
    assert result.returncode == 0, result.stderr
    row = re.search(r"^python +1024 MB +x86_64 +(\S+) +(\S+ \(\S+\)) +(\S+) +(\S+) +(\S+) +(\S+)$",
                    result.stdout, re.MULTILINE)
    assert row, result.stdout
    # by hand, prices of 2026-12 at 1 GB: requests 10M x $0.20 a million = $2.00; the
    # environment kept 730 h = 2,628,000 s x $0.0000041667 = $10.95, its invocations
    # 10M x 10 ms = 100,000 GB-s x $0.0000097222 = $0.97: $11.92; 0.5 GB of image in ECR
    # at $0.10 a GB-month = $0.050 (two significant digits below $1); in all $13.97
    assert row.groups() == ("$2.00", "$0 ($0)", "$11.92", "-", "$0.050", "$13.97")
    assert "Lambda's bill" in result.stdout and "monthly tiers" in result.stdout
    assert "1 environment of provisioned concurrency kept the 730 hours" in result.stdout
    bad = run_cli("cost", path, "--requests-per-month", "10M", "--provisioned", "-1")
    assert bad.returncode == 2 and "--provisioned" in bad.stderr
