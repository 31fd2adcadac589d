"""The one typed settings object. Nothing else in the package reads the environment.

Every field is set by an environment variable with the ``TAKEDOWN_`` prefix, e.g.
``TAKEDOWN_DATABASE_URL``. Settings are validated when the process starts, so a bad value
stops it with a clear message instead of failing on the first request.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from takedown.errors import ConfigurationError

DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105

# The longest duration any setting takes. Longer is a typing mistake (seconds for minutes,
# a digit too many), and a date that far off overflows when a deadline is added to now.
MAX_DURATION: Final = timedelta(days=3650)
# Plain seconds, as the README documents: "3600", "1.5". A sign is read so that "-60" is
# refused as negative rather than as unreadable.
_SECONDS: Final = re.compile(r"[+-]?\d+(?:\.\d+)?")
_PYDANTIC_DURATION: Final = TypeAdapter(timedelta)


def _read_duration(value: object) -> object:
    """A duration from text: seconds, or what pydantic reads (ISO 8601, ``HH:MM:SS``).

    pydantic alone refuses "3600" from the environment (it reads seconds only from numbers,
    and the environment gives text), so text is read here; numbers and timedeltas given in
    Python go on to pydantic unchanged.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text)
        # Checked before timedelta() sees it, which overflows on thirty nines.
        if seconds > MAX_DURATION.total_seconds():
            raise ValueError(f"a duration is at most {MAX_DURATION.days} days, not {text} seconds")
        return timedelta(seconds=seconds)
    try:
        return _PYDANTIC_DURATION.validate_python(text)
    except ValidationError:
        raise ValueError(
            f"{value!r} is not a duration: give seconds (3600) or ISO 8601 (PT1H, P1D)"
        ) from None


def _bounded_duration(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    if value > MAX_DURATION:
        raise ValueError(f"a duration is at most {MAX_DURATION.days} days")
    return value


def _metrics_token(value: str) -> str:
    # A bearer token short enough to guess would publish the hotline's workload.
    if value and len(value) < 16:
        raise ValueError("the metrics token is empty (metrics off) or at least 16 characters")
    return value


# Every duration setting: seconds or ISO 8601 from the environment, from 0 to MAX_DURATION.
# The console's runtime settings validate through the same field, so they share the checks.
Duration = Annotated[timedelta, BeforeValidator(_read_duration), AfterValidator(_bounded_duration)]


class Settings(BaseSettings):
    """Runtime configuration of every Takedown process (API, worker, CLI)."""

    model_config = SettingsConfigDict(env_prefix="TAKEDOWN_", extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    # Empty means SQLite in data_dir, the embedded default that needs nothing installed.
    database_url: str = ""
    sql_echo: bool = False
    # Bounded waits, so no request or job can wait for ever on the database (PostgreSQL;
    # SQLite's writer lock and busy timeout use db_lock_timeout_seconds). A statement, a lock
    # wait, a connection from the pool or a new connection that takes longer fails, and the
    # API answers 503 instead of hanging. A transaction left idle this long is ended by the
    # server, so a stuck client cannot hold its locks.
    db_statement_timeout_seconds: float = Field(default=60.0, gt=0)
    db_lock_timeout_seconds: float = Field(default=5.0, gt=0)
    db_idle_in_transaction_timeout_seconds: float = Field(default=120.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    # Requests served at once by one API process; more wait up to admission_wait_seconds for
    # a slot and are then refused with 503 and Retry-After (load shedding). The connection
    # pool and the thread pool are sized from it, which is what keeps a slow transaction from
    # wedging the process (see web/admission.py).
    max_concurrent_requests: int = Field(default=16, ge=1, le=1000)
    admission_wait_seconds: float = Field(default=3.0, ge=0)

    # Intake.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    bulk_max_items: int = Field(default=10_000, ge=1)
    report_text_max_chars: int = Field(default=10_000, ge=100)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    # Public reports per client address per window. The address lives only in memory.
    public_rate_limit: int = Field(default=20, ge=1)
    # Requests per API key per window.
    api_rate_limit: int = Field(default=120_000, ge=1)

    # Deadlines from the first report, per priority (ISO 8601 durations or seconds).
    deadline_immediate_danger: Duration = timedelta(hours=1)
    deadline_police: Duration = timedelta(hours=24)
    deadline_trusted: Duration = timedelta(hours=24)
    deadline_public: Duration = timedelta(hours=24)

    # What the public report pages show.
    hotline_name: str = "Takedown hotline"
    support_url: str = "https://www.childhelplineinternational.org/"
    emergency_number: str = "112"

    # Staff sessions.
    session_ttl: Duration = timedelta(hours=12)
    # Cookies marked Secure and named with the __Host- prefix (sent over https only, to this
    # host only, never set by a sibling domain). Unset: on in production, off in development,
    # which is served over plain http on 127.0.0.1 where a browser would drop Secure cookies.
    cookie_secure: bool | None = None
    # Strict-Transport-Security max-age, sent while cookies are secure (the site is https
    # only then); 0 sends none.
    hsts_max_age: int = Field(default=31_536_000, ge=0)

    # Jobs.
    job_lease_seconds: int = Field(default=300, ge=2)
    job_max_attempts: int = Field(default=6, ge=1)
    job_backoff_base_seconds: float = Field(default=15.0, ge=0)
    job_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    # Extra modules whose import registers job handlers (plugins, test fixtures).
    job_modules: list[str] = Field(default_factory=list)

    # Hash matching. Uploads are also bounded by max_body_bytes, which applies first.
    max_image_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # Decompression bombs: refused from the header, before any pixel is decoded.
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    # PDQ hashes below this quality are stored but never matched (HMA and pdq/README: 50).
    pdq_quality_floor: int = Field(default=50, ge=0, le=100)
    # The PDQ Hamming distance a new bank matches at unless it says otherwise.
    pdq_threshold: int = Field(default=31, ge=0, le=128)

    # Capture of reported URLs through the guarded fetcher. "static" resolves only the names
    # in fetch_static_hosts (the sandbox, tests); "system" asks the machine's resolver.
    fetch_resolver: Literal["system", "static"] = "system"
    fetch_static_hosts: dict[str, list[str]] = Field(default_factory=dict)
    # Hosts the fetcher may reach although they are not public (name, name:port, ip:port).
    fetch_allow_hosts: list[str] = Field(default_factory=list)
    fetch_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    fetch_max_redirects: int = Field(default=5, ge=0)
    fetch_connect_timeout: float = Field(default=5.0, gt=0)
    fetch_read_timeout: float = Field(default=15.0, gt=0)
    fetch_total_timeout: float = Field(default=60.0, gt=0)
    # Operators should name their hotline and a contact address here.
    fetch_user_agent: str = "Takedown/0.1 (notice-and-takedown fetcher)"
    capture_max_media_per_page: int = Field(default=50, ge=1)
    # The work one report can cause: pixels decoded over all of a capture's media (a 7000x7000
    # PNG is 49 million), and seconds after which a capture starts nothing new.
    capture_max_pixels: int = Field(default=100_000_000, ge=1)
    capture_max_seconds: float = Field(default=120.0, gt=0)

    # Where this hotline is: content hosted here is "at home" for routing.
    home_country: str = Field(default="NL", pattern=r"^[A-Z]{2}$")

    # Tracing. DNS through dnspython: empty dns_nameservers means the system's resolv.conf.
    dns_nameservers: list[str] = Field(default_factory=list)
    dns_port: int = Field(default=53, ge=1, le=65535)
    dns_timeout: float = Field(default=3.0, gt=0)
    # IP-to-ASN over DNS (Team Cymru's TXT zones); empty disables, leaving ASNs unknown unless
    # the directory or RDAP knows them.
    asn_dns_zone: str = "origin.asn.cymru.com"
    asn6_dns_zone: str = "origin6.asn.cymru.com"
    # RDAP: rdap.org redirects to the registry that holds the answer. Empty disables RDAP.
    rdap_base_url: str = "https://rdap.org"
    rdap_timeout: float = Field(default=10.0, gt=0)
    rdap_cache_ttl: Duration = timedelta(days=1)
    # Requests per second to RDAP, per process (registries block clients that ask too fast).
    rdap_rate_per_second: float = Field(default=2.0, gt=0)
    # Extra CDN entries (YAML, same shape as the packaged list) added to the built-in list.
    cdn_list_file: Path | None = None
    # Hosts that do not resolve, or resolve only to private addresses, are traced again.
    trace_retry_interval: Duration = timedelta(hours=6)
    trace_retry_limit: int = Field(default=28, ge=0)

    # Signs the answer links in notices (and anything else that must not be forged from the
    # database alone). The development default is refused in production.
    secret_key: str = Field(default=DEV_SECRET_KEY, min_length=32, repr=False)
    # The audit chain's HMAC key (32+ random bytes in a file); without it, derived from
    # secret_key. Signed checkpoints of the chain go to audit_checkpoint_dir (default
    # DATA_DIR/audit-checkpoints): keep that on storage the database's admins cannot rewrite.
    audit_key_file: Path | None = None
    audit_checkpoint_dir: Path | None = None

    # Notices. Who we are in notices (X-ARF reporter/sender, e-mail From) and where the
    # answer links point; public_base_url must be reachable by the providers we write to.
    hotline_email: str = "hotline@takedown.invalid"
    hotline_domain: str = "takedown.invalid"
    public_base_url: str = "http://127.0.0.1:8000"
    # SMTP relay for notices; empty smtp_host means the sandbox's sink when it runs, else
    # notices by e-mail fail with a clear error (and stay queued).
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=30.0, gt=0)
    webhook_timeout: float = Field(default=15.0, gt=0)
    # What a notice asks: an answer within notice_deadline; its answer link lives this long.
    notice_deadline: Duration = timedelta(hours=24)
    notice_token_ttl: Duration = timedelta(days=30)
    # A YAML file of legal-basis texts per country, replacing the packaged ones.
    legal_basis_file: Path | None = None

    # Monitoring after a notice: first re-check, then every recheck_interval, until removal.
    recheck_first: Duration = timedelta(hours=1)
    recheck_interval: Duration = timedelta(hours=6)
    # Still live and no answer this long after a notice: re-notice; after max_renotices
    # re-notices, escalate along the trace (CDN, upstream, registrar, registry).
    renotice_after: Duration = timedelta(hours=24)
    max_renotices: int = Field(default=2, ge=0)
    # Re-checks of cases forwarded to a partner hotline stop after this long.
    recheck_give_up_after: Duration = timedelta(days=90)

    # Lists. Routing lists URLs hosted abroad; a case noticed at home and still live this
    # long after its first notice is listed too (0 turns that off).
    list_unremoved_after: Duration = timedelta(hours=48)
    # Every listed entry is re-checked at least this often (the IWF: twice a day).
    list_recheck_interval: Duration = timedelta(hours=12)
    # The URL list is published every list_publish_interval when it changed.
    list_publish_interval: Duration = timedelta(minutes=15)
    # The publication guard: a version adding or removing more entries than this, or listing a
    # registered domain on the protected list (a file, one domain per line, replacing the
    # packaged one) or a shared-hosting parent, waits for a supervisor's approval.
    list_guard_max_added: int = Field(default=2_000, ge=1)
    list_guard_max_removed: int = Field(default=2_000, ge=1)
    protected_domains_file: Path | None = None
    # The splash page that blocked requests are sent to: DNS RPZ answers with a CNAME to
    # splash_host (or its A/AAAA records, for resolvers that ignore CNAME targets) and the
    # Squid helper's deny_info points at public_base_url + /blocked. Empty splash_host means
    # the host of public_base_url.
    rpz_zone: str = "rpz.takedown.invalid"
    splash_host: str = ""
    splash_ipv4: str = "192.0.2.80"
    splash_ipv6: str = "2001:db8::80"
    # Ed25519 private key (PEM) that signs published lists. Without one the key is derived
    # from secret_key, so it is stable as long as the secret key is.
    list_signing_key_file: Path | None = None

    # The console. Staff sign in with a password and a TOTP code; without totp_required a
    # user who never enrolled may use the API with a password alone (not for production).
    totp_required: bool = True
    # Exposure of analysts to unknown material (the IWF: at most 5 hours a day, hourly
    # breaks): past warn_ratio of a cap the console warns; at the cap reveals are blocked
    # until a supervisor extends it. One reveal counts at most reveal_max_seconds of viewing.
    exposure_daily_reveals: int = Field(default=150, ge=1)
    exposure_daily_minutes: int = Field(default=300, ge=1)
    exposure_warn_ratio: float = Field(default=0.8, gt=0, le=1)
    exposure_break_interval: Duration = timedelta(hours=1)
    exposure_reveal_max_seconds: int = Field(default=300, ge=1)
    # Previews of unknown items: the longest side in pixels, fetched live and never stored.
    preview_max_side: int = Field(default=320, ge=64, le=1024)
    # Actions that need a second person (four eyes).
    four_eyes_actions: tuple[str, ...] = ("list_host", "reverse_decision", "not_illegal_trusted")

    # Operational metrics (GET /metrics, Prometheus text format). Empty token: metrics are off,
    # /metrics is 404 and no process records anything. Set the same token and directory for
    # every API and worker process of a machine: they write their counters to metrics_dir
    # (default DATA_DIR/metrics) and any API process there serves them merged.
    metrics_token: Annotated[str, AfterValidator(_metrics_token)] = Field(default="", repr=False)
    metrics_dir: Path | None = None

    # The annual transparency report (takedown.stats.report): counts from 1 to
    # stats_suppress_below - 1 are shown as "< N" so that no report, reporter or victim can
    # be singled out. transparency_page serves the latest complete year's report, suppressed,
    # at /transparency without signing in (off: 404).
    stats_suppress_below: int = Field(default=5, ge=1, le=100)
    transparency_page: bool = False

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.env == "production" and not self.database_url:
            raise ValueError("TAKEDOWN_DATABASE_URL must be set in production")
        if self.env == "production" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError("TAKEDOWN_SECRET_KEY must be set in production (32+ characters)")
        return self

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies are Secure and ``__Host-`` prefixed (see ``cookie_secure``)."""
        return self.env == "production" if self.cookie_secure is None else self.cookie_secure

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite (WAL) inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'takedown.sqlite3').resolve()}"

    @property
    def metrics_directory(self) -> Path:
        """Where the processes' metric files are shared (see ``takedown.metrics``)."""
        return self.metrics_dir or self.data_dir / "metrics"

    @property
    def audit_checkpoints(self) -> Path:
        """Where signed checkpoints of the audit chain are written."""
        return self.audit_checkpoint_dir or self.data_dir / "audit-checkpoints"

    def deadline_for(self, priority: str) -> timedelta:
        """The deadline of a priority name (see ``cases.models.Priority``)."""
        try:
            value: timedelta = getattr(self, f"deadline_{priority}")
        except AttributeError as exc:  # pragma: no cover - priorities and fields move together
            raise ConfigurationError(f"no deadline configured for priority {priority!r}") from exc
        return value


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning pydantic's error into ours."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
