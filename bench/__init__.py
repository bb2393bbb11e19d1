"""linkflow benchmarks on the local stack: ``python -m bench.run [--quick] [--output PATH]``.

Each figure lives in a module of its own (trigger, webhook, counts, throughput, emulator); every
comparison is measured in the same run as a ratio, because the machine is shared and noisy.
See README.md#benchmarks for the methods, the targets and the last full run.
"""
