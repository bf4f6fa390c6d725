"""`coldbench profile`: where a cold start's Init Duration goes.

- ``session``: the samples, unprofiled and profiled, taken on the local target the way
  `coldbench run` takes cold samples;
- ``probes``: per language, how its own profiling is switched on and read;
- ``tree``: one init as a tree of parts and items, and the median tree of several;
- ``document``: the versioned JSON document of a profile;
- ``render``: the terminal table and the icicle chart.
"""
