"""The boxes of the pipeline diagram as bytewax composite operators (``@operator``).

Each step wraps pure logic from ``operators/`` (or a connector's Source or Sink) and returns its
good items and its dead letters as named streams (``checked.Checked``: errors are data). A module
is named after what it wraps, so ``flows/steps/dedup.py`` is the step of ``operators/dedup.py``
and ``flows/steps/kafka.py`` the one of ``connectors/kafka.py``; ``operators/`` itself never
imports bytewax (tests/test_layers.py).

- ``checked``: ``Checked[T]``, the typed ``split`` and ``split_errors``
- ``normalize``, ``private``, ``quote``, ``windows``, ``detect``, ``rules``: the stages in order
- ``dedup``, ``inclusion``: source items once each, alerts once each, inclusion tracking
- ``kafka``, ``archive``, ``clickhouse``: inputs and outputs; ``tally``: counting taps
"""
