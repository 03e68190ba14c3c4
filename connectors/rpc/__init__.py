"""Live ingestion from chain nodes over WebSocket (subscriptions) or HTTP (polling) JSON-RPC."""

from connectors.rpc.endpoints import CHAIN_IDS, Endpoint, endpoints_from_config, redact
from connectors.rpc.source import RpcSource

__all__ = ["CHAIN_IDS", "Endpoint", "RpcSource", "endpoints_from_config", "redact"]
