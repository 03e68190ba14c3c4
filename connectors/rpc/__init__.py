"""Live ingestion from chain nodes over WebSocket (subscriptions) or HTTP (polling) JSON-RPC."""

from connectors.rpc.endpoints import CHAIN_IDS, Endpoint, EndpointError, UrlGroup, endpoints, redact
from connectors.rpc.settings import RpcSettings
from connectors.rpc.source import RpcSource

__all__ = [
    "CHAIN_IDS",
    "Endpoint",
    "EndpointError",
    "RpcSettings",
    "RpcSource",
    "UrlGroup",
    "endpoints",
    "redact",
]
