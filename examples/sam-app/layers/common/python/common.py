"""Shared helpers of the sample app, shipped as a layer."""

GREETING = "hello from the common layer"
