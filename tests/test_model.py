"""The model: a variant's fields, its label (rendered once), how results keep it, and how
files of older schemas are read into the fields."""

import json

import pytest
from conftest import make_sample

from coldbench.model import ConfigKey, Variant, median
from coldbench.results.schema import SCHEMA_VERSION, load


@pytest.mark.parametrize("variant, label", [
    (Variant(), None),
    (Variant(architecture="x86_64"), "x86_64"),
    (Variant(architecture="x86_64", snapstart=True), "x86_64 SnapStart"),
    (Variant(architecture="arm64", package_type="image", region="eu-west-1"),
     "arm64 image eu-west-1"),
    (Variant(architecture="x86_64", package_type="zip"), "x86_64"),   # zip is the default
    (Variant(architecture="x86_64", burst=4), "x86_64 burst 4"),
    (Variant(architecture="x86_64", idle_s=300.0), "x86_64 idle 5m"),
    (Variant(architecture="x86_64", idle_s=0.2), "x86_64 idle 0.2s"),
    (Variant(architecture="x86_64", version="trimmed"), "x86_64 trimmed"),
    (Variant(version="trimmed"), "trimmed"),
    (Variant(architecture="arm64", layers=("otel", "secrets"), template="api", via="http"),
     "arm64 layers otel+secrets template api via http"),
])
def test_a_variant_renders_itself_once(variant, label):
    assert variant.label() == label
    assert bool(variant) is (label is not None)


def test_a_key_labels_its_configuration_with_its_variant():
    key = ConfigKey("coldbench", "python", 512, Variant(architecture="arm64", snapstart=True))
    assert (key.label, str(key)) == ("python arm64 SnapStart", "python arm64 SnapStart 512 MB")
    assert key.to_json() == {"function": "coldbench", "runtime": "python", "memory_mb": 512,
                             "variant": "arm64 SnapStart"}
    assert ConfigKey("coldbench", "python", 512).to_json()["variant"] is None


@pytest.mark.parametrize("words, fields", [
    ("x86_64", {"architecture": "x86_64"}),
    ("x86_64 SnapStart", {"architecture": "x86_64", "snapstart": True}),
    ("x86_64 image", {"architecture": "x86_64", "package_type": "image"}),
    ("x86_64 eu-west-1", {"architecture": "x86_64", "region": "eu-west-1"}),
    ("arm64 SnapStart us-gov-west-1 burst 10",
     {"architecture": "arm64", "snapstart": True, "region": "us-gov-west-1", "burst": 10}),
    ("x86_64 idle 5m", {"architecture": "x86_64", "idle_s": 300.0}),
    ("x86_64 idle 0.2s", {"architecture": "x86_64", "idle_s": 0.2}),
    ("x86_64 no SnapStart", {"architecture": "x86_64", "version": "no SnapStart"}),
    ("trimmed", {"version": "trimmed"}),
])
def test_the_words_of_older_files_are_read_into_the_fields(words, fields):
    variant = Variant.parse_label(words)
    assert variant.to_json() == fields
    assert variant.label() == words          # and render back to what was stored


def test_results_keep_the_fields_and_read_older_files_words(tmp_path):
    sample = make_sample(variant=Variant(architecture="arm64", snapstart=True))
    document = sample.to_json()
    assert document["variant"] == {"architecture": "arm64", "snapstart": True}
    assert "variant" not in make_sample().to_json()          # empty: not written
    assert SCHEMA_VERSION == 3
    path = tmp_path / "v2.json"
    old = dict(document, variant="arm64 SnapStart eu-west-1")
    path.write_text(json.dumps({"schema_version": 2, "run": {"profiles": [
        {"function": "coldbench", "runtime": "python", "memory_mb": 128,
         "variant": "x86_64"}]}, "samples": [old]}))
    results = load(path)
    assert results.samples[0].variant == Variant(architecture="arm64", snapstart=True,
                                                 region="eu-west-1")
    assert results.run["profiles"][0]["variant"] == {"architecture": "x86_64"}
    path.write_text(json.dumps({"schema_version": 3, "run": {},
                                "samples": [dict(document, variant="arm64")]}))
    with pytest.raises(Exception, match=r"samples\[0\] variant is \"arm64\", not an object"):
        load(path)


def test_the_median():
    assert median([]) is None
    assert median([3.0]) == 3.0
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5          # the mean of the middle two
