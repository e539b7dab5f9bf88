"""The Numenta Anomaly Benchmark (NAB) for fireline: corpus, scorer and detector runner.

`corpus` loads the data of `../shared/data/nab`, `scorer` is an independent implementation of
NAB v1.0's scoring (windows, scaled sigmoid, profiles, threshold sweep, normalisation) and
`runner` feeds fireline detectors online over the 58 series. `bench/nab.py` is the CLI.
"""
