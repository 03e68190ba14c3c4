"""Layer-2 sequencer feeds, decoded: Arbitrum's sequencer feed and OP-stack Flashblocks.

Pure decoders (no I/O): a frame in, the flow's ``RawItem`` records and ``DeadLetter`` records
out. The websocket sources that feed them live in ``connectors/l2``.
"""
