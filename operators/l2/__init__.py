"""Layer-2 sequencer feeds, decoded: Arbitrum's sequencer feed and OP-stack Flashblocks.

Pure decoders (no I/O): a frame in, the flow's ``RawItem`` records and ``DeadLetter`` records
out. The websocket sources that feed them live in ``connectors/l2``.
"""

# The RawItem kind of a whole Flashblock (for the preconfirmed MEV step). Here, not in
# flashblocks.py, so the flow can route such items without importing the decoders' native
# dependencies (brotli, libsecp256k1) until a feed is configured.
FLASHBLOCK_KIND = "flashblock"
