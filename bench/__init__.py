"""The benchmark suite: ``python -m bench`` (see docs/performance.md).

Measures the parse stage alone (feedparser as shipped, feedparser tuned, our fast path, raw
lxml) and the whole pipeline end to end on loopback (feed server -> fetcher -> Redis ->
importer -> store) with 1, 2 and 4 importer processes: items/s, CPU-seconds per 1,000 items of
our own processes (the store and Redis reported separately), Redis commands and store round
trips per item, and the peak memory of every process. Medians of several runs, with min/max.
"""
