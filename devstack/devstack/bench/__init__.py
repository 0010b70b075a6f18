"""``make bench`` (``python -m devstack.bench``): throughput and latency of every hop against the raw model.

- :mod:`~devstack.bench.model`: the raw model in-process (ceiling, quality, random shapes);
- :mod:`~devstack.bench.load`: load generation (``hey``; :mod:`~devstack.bench.wrk` for varied bodies);
- :mod:`~devstack.bench.scrape`: the servers' metrics; :mod:`~devstack.bench.procstats`: CPU and memory;
- :mod:`~devstack.bench.targets`: the issues' targets judged; :mod:`~devstack.bench.report`: JSON + markdown;
- :mod:`~devstack.bench.overhead`: the serving framework's own cost, against an echo app.
"""
