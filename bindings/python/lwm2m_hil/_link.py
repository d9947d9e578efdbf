"""Radio settings from Python: a device's link model and its
message-aware fault rules, checked and converted for the C++ radio."""

from __future__ import annotations

from typing import Literal, Sequence, TypedDict, Union

from . import _core
from ._options import Burst, probability, seconds_ms

Direction = Literal["both", "up", "down"]

_DIRECTIONS = {"both": (True, True), "up": (True, False), "down": (False, True)}


class LinkSettings(TypedDict, total=False):
    """A device's radio link (``Device.link``): ``loss``, ``burst``,
    ``delay`` and ``jitter`` (s), ``duplicate``, ``reorder`` (+
    ``reorder_delay`` s), ``corrupt`` (probabilities), ``bandwidth_bps``,
    ``mtu`` (bytes), ``nat_idle`` (s of silence after which the NAT binding
    expires), ``partitions`` [(start_s, duration_s[, direction])] and
    ``sleeps`` [(start_s, duration_s)], both relative to now."""

    loss: float
    burst: Burst | None
    delay: float
    jitter: float
    duplicate: float
    reorder: float
    reorder_delay: float
    corrupt: float
    bandwidth_bps: int
    mtu: int
    nat_idle: float
    partitions: Sequence[Union[tuple[float, float], tuple[float, float, Direction]]]
    sleeps: Sequence[tuple[float, float]]


# A rule's match keys and values (emulator/radio/README.md): nth, count,
# direction, type, code, path, dtls, probability, delay (s), name.
RuleValue = Union[str, int, float, None]


def link_config(now_ms: int, settings: LinkSettings) -> _core.LinkConfig:
    """A LinkConfig from Python settings (seconds; windows relative to now)."""
    allowed = set(LinkSettings.__annotations__)
    unknown = set(settings) - allowed
    if unknown:
        raise TypeError(f"unknown link setting(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    c = _core.LinkConfig()
    c.loss = probability("loss", settings.get("loss", 0.0))
    c.duplicate = probability("duplicate", settings.get("duplicate", 0.0))
    c.reorder = probability("reorder", settings.get("reorder", 0.0))
    c.corrupt = probability("corrupt", settings.get("corrupt", 0.0))
    c.delay_ms = seconds_ms("delay", settings.get("delay", 0.0))
    c.jitter_ms = seconds_ms("jitter", settings.get("jitter", 0.0))
    c.reorder_ms = seconds_ms("reorder_delay", settings.get("reorder_delay", 0.0))
    if c.reorder > 0 and c.reorder_ms <= 0:
        raise ValueError("reorder_delay: must be > 0 seconds when reorder > 0 (how long a datagram is held back)")
    c.nat_idle_ms = seconds_ms("nat_idle", settings.get("nat_idle", 0.0))
    c.bandwidth_bps = _count("bandwidth_bps", settings.get("bandwidth_bps", 0))
    c.mtu = _count("mtu", settings.get("mtu", 0))
    burst = settings.get("burst")
    if burst is not None:
        for name in ("p_good_to_bad", "p_bad_to_good", "loss_in_good", "loss_in_bad"):
            probability(f"burst.{name}", getattr(burst, name))
        c.set_burst(burst.p_good_to_bad, burst.p_bad_to_good, burst.loss_in_good, burst.loss_in_bad)
    windows = []
    for w in settings.get("partitions", ()):
        start, duration, *rest = w
        direction = rest[0] if rest else "both"
        if direction not in _DIRECTIONS:
            raise ValueError(f"partitions: direction {direction!r} is not one of both, up, down")
        p = _core.Partition()
        p.start_ms = now_ms + seconds_ms("partitions.start", start)
        p.end_ms = p.start_ms + seconds_ms("partitions.duration", duration)
        p.uplink, p.downlink = _DIRECTIONS[direction]
        windows.append(p)
    c.partitions = windows
    sleeps = []
    for start, duration in settings.get("sleeps", ()):
        sleep = _core.SleepWindow()
        sleep.start_ms = now_ms + seconds_ms("sleeps.start", start)
        sleep.end_ms = sleep.start_ms + seconds_ms("sleeps.duration", duration)
        sleeps.append(sleep)
    c.sleeps = sleeps
    c.validate()
    return c


def _count(name: str, value: int) -> int:
    if value < 0:
        raise ValueError(f"{name}: must be >= 0 (0: unlimited), got {value}")
    return int(value)


def rule_fields(action: str, match: dict[str, RuleValue]) -> list[tuple[str, str]]:
    """Rule keys for the C++ parser; ``delay`` in seconds becomes delay_ms."""
    if action == "delay" and match.get("delay") is None:
        raise ValueError("delay: required (seconds) for action 'delay'")
    fields = [("action", str(action))]
    for key, value in match.items():
        if value is None:
            continue
        if key == "delay":
            fields.append(("delay_ms", str(seconds_ms("delay", float(value)))))
        else:
            fields.append((key, str(value)))
    return fields
