"""The pure-logic engines the steps run, configured: size limits, the enricher, pool factories."""

from __future__ import annotations

from flows.config import ConfigError, DetectConfig, EnrichConfig, LimitsConfig, setting_name
from operators.enrich import DEFAULT_ENRICHER, Enricher
from operators.mev.pools import BUNDLED, AmmFactories
from operators.normalize import SizeLimits


def size_limits(cfg: LimitsConfig) -> SizeLimits:
    return SizeLimits(
        tx_payload_bytes=cfg.max_tx_payload_bytes,
        block_payload_bytes=cfg.max_block_payload_bytes,
        calldata_bytes=cfg.max_calldata_bytes,
        dead_letter_payload_bytes=cfg.dead_letter_payload_bytes,
    )


def enricher_for(cfg: EnrichConfig) -> Enricher:
    """The bundled selectors and labels, and the user's folders when set."""
    if cfg.labels_dir or cfg.abi_dir:
        return Enricher.load(cfg.labels_dir or None, cfg.abi_dir or None)
    return DEFAULT_ENRICHER


def amm_factories(cfg: DetectConfig) -> AmmFactories:
    """The bundled pool factories, plus the user's file when configured."""
    if not cfg.amm_factories:
        return BUNDLED
    try:
        return AmmFactories.load(cfg.amm_factories)
    except (OSError, ValueError, AttributeError) as exc:
        name = setting_name("detect.amm_factories")
        raise ConfigError(f"{name}={cfg.amm_factories}: {exc}") from None
