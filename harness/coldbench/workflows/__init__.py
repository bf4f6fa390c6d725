"""What a user asks for, each a short orchestration over the model and the targets:
`run` (``run.py``, with its request checked in ``options.py``), `profile` (``profile.py``;
its document ``profile_document.py``), `mitigate` (``mitigate.py``) and the idle and burst
sweeps (``sweeps.py``). How one sample is taken is ``coldbench.measure``."""
