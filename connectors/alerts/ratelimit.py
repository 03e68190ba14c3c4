"""Token buckets that say how long to wait instead of sleeping, and can be paused by a 429.

A scheduler that must not sleep (one thread serves every recipient of a channel) needs "when may I
send" rather than a blocking acquire, so this is a few lines here, not a blocking limiter library.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: int
    tokens: float = field(init=False)
    updated: float = field(default=0.0, init=False)
    paused_until: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(
                float(self.burst), self.tokens + (now - self.updated) * self.rate_per_s
            )
            self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0: now)."""
        self._refill(now)
        if now < self.paused_until:
            return self.paused_until - now
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def pause(self, until: float) -> None:
        """The server said "retry after": nothing goes to this destination before ``until``."""
        self.paused_until = max(self.paused_until, until)


class ChannelLimits:
    """One bucket for the channel and one per recipient; a send takes a token from both."""

    def __init__(self, channel_rate: float, channel_burst: int, rate: float, burst: int) -> None:
        self._channel = TokenBucket(channel_rate, channel_burst)
        self._rate = rate
        self._burst = burst
        self._recipients: dict[str, TokenBucket] = {}

    def _bucket(self, recipient: str) -> TokenBucket:
        bucket = self._recipients.get(recipient)
        if bucket is None:
            bucket = self._recipients[recipient] = TokenBucket(self._rate, self._burst)
        return bucket

    def acquire(self, recipient: str, now: float) -> float:
        """0 and both tokens taken, or the seconds to wait (nothing taken)."""
        bucket = self._bucket(recipient)
        wait = max(self._channel.wait(now), bucket.wait(now))
        if wait > 0:
            return wait
        self._channel.take(now)
        bucket.take(now)
        return 0.0

    def pause(self, recipient: str, until: float) -> None:
        self._bucket(recipient).pause(until)
