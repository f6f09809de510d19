"""Benchmarks run by `make bench`: each module measures one promise of the product and prints its figures."""
