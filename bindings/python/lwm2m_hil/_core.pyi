"""Type stubs of the pybind11 module; use the lwm2m_hil package instead."""

from typing import Any

class DeviceSpec:
    endpoint: str
    bootstrap_uri: str
    psk_identity: str
    psk_key: bytes
    profile: str
    request_finish: bool
    finish_timeout: float
    idle_timeout: float
    hold_off: int
    server_uri: str
    server_ssid: int
    server_lifetime: int
    retry_initial: float
    retry_factor: float
    retry_max: float
    retry_jitter: float
    max_bootstrap_attempts: int
    register_attempts: int
    ack_timeout: float
    ack_random_factor: float
    max_retransmit: int
    bootstrap_linger: float
    record_messages: bool
    flash_size: int
    flash_sector_size: int
    flash_page_size: int
    flash_image: str
    flash_violation: str
    flash_endurance: int
    flash_program_latency: float
    flash_erase_latency: float
    reboot_after_power_cut: float
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class DeviceHandle:
    @property
    def endpoint(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def last_exit(self) -> str: ...
    @property
    def address(self) -> str: ...
    def timeline(self) -> list[tuple[int, str, str]]: ...
    def exit_counts(self) -> dict[str, int]: ...
    def bootstrap_duration_ms(self) -> int: ...
    def objects(self, staged: bool = False) -> dict[int, dict[int, dict[int, Any]]]: ...
    def start(self) -> None: ...
    def deregister(self) -> None: ...

class BootstrapServerHandle:
    @property
    def uri(self) -> str: ...
    @property
    def secure_uri(self) -> str: ...
    def results(self) -> list[dict[str, Any]]: ...
    def events(self) -> list[tuple[int, str, str]]: ...
    def reconfigure(self, config_json: str) -> None: ...

class RegistrationServerHandle:
    @property
    def uri(self) -> str: ...
    @property
    def secure_uri(self) -> str: ...
    def registrations(self) -> list[dict[str, Any]]: ...
    def events(self) -> list[tuple[int, str, str]]: ...
    def request(
        self, endpoint: str, method: str, path: str, payload: bytes, content_format: int, timeout: float
    ) -> tuple[str, bytes]: ...

class Runtime:
    def __init__(
        self,
        seed: int = 0,
        threads: int = 2,
        devices_per_shard: int = 100,
        radio: bool = True,
        device_handshakes: int = 64,
        server_handshakes: int = 256,
    ) -> None: ...
    @property
    def seed(self) -> int: ...
    def now_ms(self) -> int: ...
    def add_bootstrap_server(
        self, config_json: str, profile: str, listen: str, secure_listen: str, ack_timeout: float,
        ack_random_factor: float, max_retransmit: int,
    ) -> BootstrapServerHandle: ...
    def add_registration_server(
        self, listen: str, secure_listen: str, ack_timeout: float, ack_random_factor: float,
        max_retransmit: int, psk: list[tuple[str, str, bytes]],
    ) -> RegistrationServerHandle: ...
    def add_devices(self, spec: DeviceSpec, count: int, prefix: str, start: bool) -> list[DeviceHandle]: ...
    def wait_devices(
        self, devices: list[DeviceHandle], states: list[str], exits: list[str], timeout: float
    ) -> bool: ...
    def summary(self) -> dict[str, Any]: ...
