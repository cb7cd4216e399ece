"""export: a daemon's record as a systemd service unit or a supervisord program section.

Every start option is exported, or else named in a comment of the output and in a
note on stderr (the notes render returns): nothing is dropped without a word.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from daemonctl.errors import Failure, UsageError
from daemonctl.quoting import Unquotable, supervisor_env, supervisor_word, systemd_env, systemd_exec, systemd_word
from daemonctl.schedule import Schedule, Send, Wait
from daemonctl.signals import signal_name
from daemonctl.store.record import Record, StartSpec
from daemonctl.store.statedir import StateDir, validate_name


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
        return cls(
            mode=spec.respawn if spec.respawn in ("on-failure", "always") else None,
            delay=float(spec.restart_delay),
            delay_max=float(spec.restart_delay_max),
            min_uptime=float(spec.min_uptime),
            max_restarts=int(spec.max_restarts),
        )

    def give_up_window(self) -> float:
        """Seconds in which max_restarts+1 quick failures fit, delays included."""
        delays: float = sum(min(self.delay * 2**i, self.delay_max) for i in range(self.max_restarts))
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


class Notes:
    """What a format cannot express: a comment in the output and a line on stderr."""

    def __init__(self, comment: str) -> None:
        self.comment = comment
        self.lines: list[str] = []

    def cannot(self, what: str) -> list[str]:
        self.lines.append(what)
        return [f"{self.comment} not exported: {what}"]


def load(state: StateDir, name: str) -> Record:
    from daemonctl.reconcile import load_record

    record = load_record(state, validate_name(name))
    if record is None:
        raise UsageError(f"no daemon named {name} in {state.path}; list them with daemonctl status")
    return record


def render(kind: str, record: Record, schedule: Schedule, default_pidfile: str | None = None) -> tuple[str, list[str]]:
    """The unit or section, and the notes on what it could not express (for stderr)."""
    notes = Notes("#" if kind == "systemd" else ";")
    try:
        if kind == "systemd":
            text = systemd_unit(record, schedule, notes)
        else:
            text = supervisor_section(record, schedule, notes)
    except Unquotable as err:
        raise Failure(f"cannot export {record.name} to {kind}: {err}") from None
    if default_pidfile is not None and record.spec.pidfile != default_pidfile:
        manager = "systemd" if kind == "systemd" else "supervisord"
        text += "".join(f"{line}\n" for line in
                        notes.cannot(f"-p {record.spec.pidfile}: {manager} writes no pidfile"))
    return text, notes.lines


def _seconds(value: float) -> str:
    return "infinity" if value == float("inf") else f"{value:g}"


def _readiness(spec: StartSpec, notify_ok: bool) -> list[tuple[str, str]]:
    """The readiness options of spec that a manager without those checks drops."""
    checks = [("--ready-file", spec.ready_file), ("--ready-port", spec.ready_port), ("--ready-log", spec.ready_log)]
    if not notify_ok and spec.notify:
        checks.append(("--notify", "READY=1"))
    return [(option, str(value)) for option, value in checks if value]


def systemd_unit(record: Record, schedule: Schedule, notes: Notes | None = None) -> str:
    spec, stop, notes = record.spec, StopPlan.of(schedule), notes or Notes("#")
    respawn = Respawn.of(spec)
    lines = [
        f"# {record.name}, exported by daemonctl. Install as /etc/systemd/system/{record.name}.service,",
        f"# then: systemctl daemon-reload && systemctl enable --now {record.name}",
        "[Unit]",
        f"Description={record.name} (exported from daemonctl)",
        *_systemd_give_up(respawn),
        "",
        "[Service]",
        # exec, not simple: like daemonctl start, a program that cannot be exec'd fails the start.
        f"Type={'notify' if spec.notify else 'exec'}",
        f"ExecStart={systemd_exec(spec.executable, spec.command)}",
        f"WorkingDirectory={systemd_word(spec.chdir, expand_dollar=False)}",
        f"UMask={spec.umask:04o}",
        *_systemd_env(spec),
        f"StandardOutput={_append(spec.stdout)}",
        f"StandardError={_append(spec.stderr)}",
        *_systemd_identity(spec),
        *_systemd_ready(spec, notes),
        *_systemd_stop(stop, notes),
        *_systemd_restart(respawn, notes),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def _append(path: str) -> str:
    return "null" if path == "/dev/null" else "append:" + systemd_word(path, expand_dollar=False)


def _systemd_env(spec: StartSpec) -> list[str]:
    lines = _caller_env_comment(spec, "#")
    lines += [f"Environment={systemd_env(k, v)}" for k, v in spec.env.items()]
    if spec.env_file:
        if spec.env:
            lines.append("# systemd lets EnvironmentFile= override Environment=; daemonctl does the opposite")
        lines.append(f"EnvironmentFile={systemd_word(spec.env_file, expand_dollar=False)}")
    return lines


def _caller_env_comment(spec: StartSpec, mark: str) -> list[str]:
    # Deliberate, hence no warning: a service manager gives its programs a clean environment,
    # and the shell's that daemonctl recorded (its PATH, its secrets) should not go in a unit.
    if not spec.caller_env:
        return []
    return [f"{mark} only --env and --env-file: not the environment daemonctl recorded from its caller"]


def _systemd_identity(spec: StartSpec) -> list[str]:
    user, group = _user_group(spec)
    lines = []
    if user is not None:
        lines.append(f"User={systemd_word(user, expand_dollar=False)}")
    if group is not None:
        lines.append(f"Group={systemd_word(group, expand_dollar=False)}")
    if spec.nice is not None:
        lines.append(f"Nice={spec.nice}")
    return lines


def _user_group(spec: StartSpec) -> tuple[str | None, str | None]:
    """--user USER[:GROUP] and --group GROUP as a user and a group."""
    if spec.user is None:
        return None, spec.group
    user, _, group = spec.user.partition(":")
    return user, group or spec.group


def _systemd_ready(spec: StartSpec, notes: Notes) -> list[str]:
    lines = []
    if spec.notify:
        lines.append(f"TimeoutStartSec={spec.ready_timeout:g}")
    for option, value in _readiness(spec, notify_ok=True):
        lines += notes.cannot(f"{option} {value}: systemd deems the service started once the program runs")
    if spec.wait and not spec.readiness:
        lines += notes.cannot(f"--wait {spec.wait:g}: systemd fails the start only when the exec fails")
    return lines


def _systemd_stop(stop: StopPlan, notes: Notes) -> list[str]:
    lines = []
    if stop.lost:
        names = ", ".join(signal_name(s) for s in stop.lost)
        lines += notes.cannot(f"{names} in the stop schedule: systemd goes straight to SIGKILL")
    lines += [f"KillSignal={signal_name(stop.signal)}", f"TimeoutStopSec={_seconds(stop.timeout)}"]
    return lines


def _systemd_restart(respawn: Respawn, notes: Notes) -> list[str]:
    if respawn.mode is None:
        return ["Restart=no"]
    lines = [f"Restart={'always' if respawn.mode == 'always' else 'on-failure'}"]
    if respawn.mode != "always":
        # daemonctl restarts after any killing signal; systemd deems these four clean.
        lines.append("RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE")
    if respawn.delay_max > respawn.delay:
        lines += notes.cannot(f"--restart-delay-max {respawn.delay_max:g}: systemd waits RestartSec= every time")
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


def supervisor_section(record: Record, schedule: Schedule, notes: Notes | None = None) -> str:
    spec, stop, notes = record.spec, StopPlan.of(schedule), notes or Notes(";")
    stop_name = signal_name(stop.signal).removeprefix("SIG")
    if stop_name not in SUPERVISOR_SIGNALS:
        raise Unquotable(f"supervisord cannot stop a program with SIG{stop_name}")
    if stop.timeout == float("inf"):
        raise Unquotable("supervisord cannot wait forever for a program to stop")
    identity = _supervisor_identity(spec, notes)
    nice, nice_notes = _supervisor_nice(spec, notes)
    command = " ".join(supervisor_word(w) for w in [*nice, spec.executable, *spec.command[1:]])
    lines = [
        f"; {record.name}, exported by daemonctl: add to supervisord's configuration",
        f"[program:{record.name}]",
        f"command={command}",
        f"directory={spec.chdir.replace('%', '%%')}",
        f"umask={spec.umask:03o}",
        *_supervisor_env(spec),
        *_supervisor_logs(spec),
        *identity,
        *nice_notes,
        "autostart=true",
        *_supervisor_restart(Respawn.of(spec), spec, notes),
        *[ln for option, value in _readiness(spec, notify_ok=False)
          for ln in notes.cannot(f"{option} {value}: supervisord has no readiness check but startsecs")],
        *_supervisor_stop(stop, notes),
        f"stopsignal={stop_name}",
        f"stopwaitsecs={max(1, round(stop.timeout))}",
        "stopasgroup=true",
        "killasgroup=true",
    ]
    return "\n".join(lines) + "\n"


def _supervisor_env(spec: StartSpec) -> list[str]:
    env = dict(spec.env)
    lines = _caller_env_comment(spec, ";")
    if spec.env_file:
        from daemonctl.options import env_file_rights
        from daemonctl.store.envfile import load_env_file

        # supervisord has no environment file: its variables are copied in as they are now.
        lines.append(f"; variables read from {spec.env_file} at export time")
        env = {**load_env_file(spec.env_file, env_file_rights(spec)), **env}
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


def _supervisor_identity(spec: StartSpec, notes: Notes) -> list[str]:
    user, group = _user_group(spec)
    lines = []
    if group is not None and (user is None or group != _primary_group(user)):
        # supervisord runs the program with the user's own group: it has no group option.
        lines += notes.cannot(f"group {group}: supervisord runs the program with its user's primary group")
    if user is not None:
        lines.append(f"user={user.replace('%', '%%')}")
    return lines


def _primary_group(user: str) -> str | None:
    """The primary group of user, by name and by number as --group may name it."""
    import grp
    import pwd

    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        return None
    try:
        return grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        return str(entry.pw_gid)


def _supervisor_nice(spec: StartSpec, notes: Notes) -> tuple[list[str], list[str]]:
    """nice(1) before the program (supervisord has no niceness setting), or a note why not."""
    if spec.nice is None:
        return [], []
    if spec.nice < 0 and _user_group(spec)[0] is not None:
        # supervisord drops to the user before the exec; only root may lower a niceness.
        return [], notes.cannot(f"--nice {spec.nice}: supervisord execs as the user, who may not lower a niceness")
    import shutil

    # nice(1) adds to supervisord's own niceness, which is 0 unless it was started niced.
    return [shutil.which("nice") or "/usr/bin/nice", "-n", str(spec.nice)], []


def _supervisor_restart(respawn: Respawn, spec: StartSpec, notes: Notes) -> list[str]:
    if respawn.mode is None:
        # Like plain start: run once; --wait is how long it must live to count as started.
        return ["autorestart=false", f"startsecs={round(spec.wait)}", "startretries=0"]
    # max-restarts 0 means never give up; supervisord needs a number.
    retries = respawn.max_restarts or 1_000_000
    return [
        *notes.cannot(f"--restart-delay {respawn.delay:g} (up to {respawn.delay_max:g}): "
                      "supervisord waits 1 s more before each retry"),
        f"autorestart={'true' if respawn.mode == 'always' else 'unexpected'}",
        f"startsecs={round(respawn.min_uptime)}",
        f"startretries={retries}",
    ]


def _supervisor_stop(stop: StopPlan, notes: Notes) -> list[str]:
    if not stop.lost:
        return []
    names = ", ".join(signal_name(s) for s in stop.lost)
    return notes.cannot(f"{names} in the stop schedule: supervisord goes straight to SIGKILL")
