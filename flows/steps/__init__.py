"""The boxes of the pipeline diagram as bytewax composite operators, one module per topic.

Each wraps pure logic from ``operators/`` (or a connector's source or sink) and returns its good
items and its dead letters as named streams (``checked.Checked``: errors are data). ``operators/``
itself never imports bytewax.
"""

import time


def now_ms() -> int:
    return int(time.time() * 1000)
