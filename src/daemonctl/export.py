"""export: a daemon's record as a systemd service unit or a supervisord program section.

Options that come with supervision, readiness or privileges are read with getattr,
so a record without them exports as a plain daemon.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from .errors import Failure, UsageError
from .quoting import Unquotable, supervisor_env, supervisor_word, systemd_env, systemd_exec, systemd_word
from .record import Record, StartSpec
from .schedule import Schedule, Send, Wait
from .signals import signal_name
from .state import StateDir, validate_name


@dataclass(frozen=True)
class Respawn:
    """The --respawn settings of a spec (mode None: not supervised)."""

    mode: str | None
    delay: float
    delay_max: float
    min_uptime: float
    max_restarts: int

    @classmethod
    def of(cls, spec: StartSpec) -> Respawn:
        mode = getattr(spec, "respawn", None)
        return cls(
            mode=mode if mode in ("on-failure", "always") else None,
            delay=float(getattr(spec, "restart_delay", 1.0)),
            delay_max=float(getattr(spec, "restart_delay_max", 60.0)),
            min_uptime=float(getattr(spec, "min_uptime", 10.0)),
            max_restarts=int(getattr(spec, "max_restarts", 10)),
        )

    def give_up_window(self) -> float:
        """Seconds in which max_restarts+1 quick failures fit, delays included."""
        delays = sum(min(self.delay * 2**i, self.delay_max) for i in range(self.max_restarts))
        return (self.max_restarts + 1) * self.min_uptime + delays


@dataclass(frozen=True)
class StopPlan:
    """What a stop schedule becomes in a service manager: a first signal, then KILL."""

    signal: int
    timeout: float  # seconds between the first signal and the KILL (inf: wait forever)
    lost: list[int]  # signals in between, which the service managers cannot send

    @classmethod
    def of(cls, schedule: Schedule) -> StopPlan:
        sends = [s.signal for s in schedule.steps if isinstance(s, Send)]
        first = sends[0]
        timeout = 0.0
        for step in schedule.steps[1:]:
            if isinstance(step, Send) and step.signal == signal.SIGKILL:
                break
            if isinstance(step, Wait):
                timeout += step.seconds
        if schedule.repeat_from is not None:
            timeout = float("inf")
        lost = [s for s in sends[1:] if s != signal.SIGKILL]
        return cls(first, timeout, lost)


def load(state: StateDir, name: str) -> Record:
    from .daemon import load_record

    record = load_record(state, validate_name(name))
    if record is None:
        raise UsageError(f"no daemon named {name} in {state.path}; list them with daemonctl status")
    return record


def render(kind: str, record: Record, schedule: Schedule) -> str:
    try:
        if kind == "systemd":
            return systemd_unit(record, schedule)
        return supervisor_section(record, schedule)
    except Unquotable as err:
        raise Failure(f"cannot export {record.name} to {kind}: {err}") from None


def _seconds(value: float) -> str:
    return "infinity" if value == float("inf") else f"{value:g}"


def systemd_unit(record: Record, schedule: Schedule) -> str:
    spec, stop = record.spec, StopPlan.of(schedule)
    lines = [
        f"# {record.name}, exported by daemonctl. Install as /etc/systemd/system/{record.name}.service,",
        f"# then: systemctl daemon-reload && systemctl enable --now {record.name}",
        "[Unit]",
        f"Description={record.name} (exported from daemonctl)",
        *_systemd_give_up(Respawn.of(spec)),
        "",
        "[Service]",
        f"Type={'notify' if getattr(spec, 'notify', False) else 'simple'}",
        f"ExecStart={systemd_exec(spec.executable, spec.command)}",
        f"WorkingDirectory={systemd_word(spec.chdir, expand_dollar=False)}",
        f"UMask={spec.umask:04o}",
        *_systemd_env(spec),
        f"StandardOutput={_append(spec.stdout)}",
        f"StandardError={_append(spec.stderr)}",
        *_systemd_identity(spec),
        *_systemd_stop(stop),
        *_systemd_restart(Respawn.of(spec)),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def _append(path: str) -> str:
    return "null" if path == "/dev/null" else "append:" + systemd_word(path, expand_dollar=False)


def _systemd_env(spec: StartSpec) -> list[str]:
    lines = [f"Environment={systemd_env(k, v)}" for k, v in spec.env.items()]
    env_file = getattr(spec, "env_file", None)
    if env_file:
        if spec.env:
            lines.append("# systemd lets EnvironmentFile= override Environment=; daemonctl does the opposite")
        lines.append(f"EnvironmentFile={systemd_word(env_file, expand_dollar=False)}")
    return lines


def _systemd_identity(spec: StartSpec) -> list[str]:
    lines = []
    for key, attr in (("User", "user"), ("Group", "group"), ("Nice", "nice")):
        value = getattr(spec, attr, None)
        if value is not None:
            lines.append(f"{key}={systemd_word(str(value), expand_dollar=False)}")
    return lines


def _systemd_stop(stop: StopPlan) -> list[str]:
    lines = []
    if stop.lost:
        names = ", ".join(signal_name(s) for s in stop.lost)
        lines.append(f"# daemonctl's stop also sends {names} on the way; systemd goes straight to SIGKILL")
    lines += [f"KillSignal={signal_name(stop.signal)}", f"TimeoutStopSec={_seconds(stop.timeout)}"]
    return lines


def _systemd_restart(respawn: Respawn) -> list[str]:
    if respawn.mode is None:
        return ["Restart=no"]
    lines = [f"Restart={'always' if respawn.mode == 'always' else 'on-failure'}"]
    if respawn.mode != "always":
        # daemonctl restarts after any killing signal; systemd deems these four clean.
        lines.append("RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE")
    lines.append(f"# daemonctl doubles the delay after each quick failure, up to {respawn.delay_max:g}s")
    lines.append(f"RestartSec={respawn.delay:g}")
    return lines


def _systemd_give_up(respawn: Respawn) -> list[str]:
    if respawn.mode is None:
        return []
    if respawn.max_restarts == 0:
        return ["StartLimitIntervalSec=0"]
    return [
        f"StartLimitIntervalSec={respawn.give_up_window():g}",
        f"StartLimitBurst={respawn.max_restarts + 1}",
    ]


SUPERVISOR_SIGNALS = {"TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"}


def supervisor_section(record: Record, schedule: Schedule) -> str:
    spec, stop = record.spec, StopPlan.of(schedule)
    stop_name = signal_name(stop.signal).removeprefix("SIG")
    if stop_name not in SUPERVISOR_SIGNALS:
        raise Unquotable(f"supervisord cannot stop a program with SIG{stop_name}")
    if stop.timeout == float("inf"):
        raise Unquotable("supervisord cannot wait forever for a program to stop")
    command = " ".join(supervisor_word(w) for w in [spec.executable, *spec.command[1:]])
    lines = [
        f"; {record.name}, exported by daemonctl: add to supervisord's configuration",
        f"[program:{record.name}]",
        f"command={command}",
        f"directory={spec.chdir.replace('%', '%%')}",
        f"umask={spec.umask:03o}",
        *_supervisor_env(spec),
        *_supervisor_logs(spec),
        *_supervisor_identity(spec),
        "autostart=true",
        *_supervisor_restart(Respawn.of(spec), spec),
        f"stopsignal={stop_name}",
        f"stopwaitsecs={max(1, round(stop.timeout))}",
        "stopasgroup=true",
        "killasgroup=true",
    ]
    return "\n".join(lines) + "\n"


def _supervisor_env(spec: StartSpec) -> list[str]:
    env = dict(spec.env)
    lines = []
    env_file = getattr(spec, "env_file", None)
    if env_file:
        from .envfile import load_env_file
        from .options import env_file_rights

        # supervisord has no environment file: its variables are copied in as they are now.
        lines.append(f"; variables read from {env_file} at export time")
        env = {**load_env_file(env_file, env_file_rights(spec)), **env}
    if env:
        lines.append(f"environment={supervisor_env(env)}")
    return lines


def _supervisor_logs(spec: StartSpec) -> list[str]:
    def log(stream: str, path: str) -> list[str]:
        target = "NONE" if path == "/dev/null" else path.replace("%", "%%")
        # daemonctl never rotates its logs: neither should supervisord.
        return [f"{stream}_logfile={target}", f"{stream}_logfile_maxbytes=0"]

    if spec.stderr == spec.stdout:
        return log("stdout", spec.stdout) + ["redirect_stderr=true"]
    return log("stdout", spec.stdout) + log("stderr", spec.stderr)


def _supervisor_identity(spec: StartSpec) -> list[str]:
    user = getattr(spec, "user", None)
    return [f"user={user}"] if user is not None else []


def _supervisor_restart(respawn: Respawn, spec: StartSpec) -> list[str]:
    if respawn.mode is None:
        # Like plain start: run once; --wait is how long it must live to count as started.
        return ["autorestart=false", f"startsecs={round(spec.wait)}", "startretries=0"]
    # max-restarts 0 means never give up; supervisord needs a number.
    retries = respawn.max_restarts or 1_000_000
    return [
        f"autorestart={'true' if respawn.mode == 'always' else 'unexpected'}",
        f"startsecs={round(respawn.min_uptime)}",
        f"startretries={retries}",
    ]
