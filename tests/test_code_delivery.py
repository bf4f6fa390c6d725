"""Code delivery per package type (calibration.py, "code delivery, per package type"): what
of a package Init Duration on Lambda pays for, and the smaller-package verdict of `coldbench
mitigate` that rests on it."""

import pytest

from coldbench import calibration
from coldbench.errors import UsageError
from coldbench.analysis import mitigation
from coldbench.render import mitigation as table


def test_bytes_init_never_reads_cost_no_init_duration_in_a_zip_or_an_image():
    model = calibration.AnchoredModel(ms_per_unit=100.0, ms_per_mb=7.5)
    for package_type in calibration.PACKAGE_TYPES:
        # 121 MB never loaded, removed: the same bytes read, no change
        assert calibration.package_init_change_ms(
            model, 8.0, 8.0, unread_mb_before=121.0, unread_mb_after=0.0,
            package_type=package_type) == 0.0
    # what init reads is priced per MB read
    assert calibration.package_init_change_ms(model, 8.0, 6.0) == pytest.approx(-15.0)
    with pytest.raises(UsageError, match="package type"):
        calibration.package_init_change_ms(model, 1.0, 1.0, package_type="tar")


def test_the_smaller_package_verdict_prices_reads_not_package_bytes():
    model = calibration.load_anchored()
    found = mitigation.delivery(121_000_000, 2.0, 2.0)
    line = table.delivery_verdict(found)
    assert found.change_ms == 0.0
    assert "121.0 MB never loaded cost no Init Duration" in line and "+0.0 ms" in line
    found = mitigation.delivery(121_000_000, 2.0, 1.0)
    line = table.delivery_verdict(found)
    assert found.change_ms == pytest.approx(-model.ms_per_mb, abs=0.05)
