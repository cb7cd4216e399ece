"""export systemd: a daemon's record as a systemd service unit."""

from __future__ import annotations

from daemonctl.export.base import (
    Notes,
    Respawn,
    StopPlan,
    caller_env_comment,
    declared,
    readiness,
    seconds,
    undeclared,
    user_group,
)
from daemonctl.export.sets import PLACEHOLDER
from daemonctl.quoting import systemd_env, systemd_exec, systemd_word
from daemonctl.schedule import Schedule
from daemonctl.signals import signal_name
from daemonctl.store.record import Record, StartSpec

# The recorded start options this module writes itself; the others' directives are
# declared in start_options.py (or the option is noted as not exported).
BY_HAND = frozenset({
    "pidfile", "stdout", "stderr", "chdir", "umask", "env", "wait", "env_file", "respawn", "restart_delay",
    "restart_delay_max", "min_uptime", "max_restarts", "ready_file", "ready_port", "ready_log", "notify",
    "ready_timeout", "user", "group", "instances", "forking", "pid_from",
    "log_max_size", "log_keep", "log_timestamps", "syslog",
})


def systemd_unit(record: Record, schedule: Schedule, notes: Notes | None = None, instances: int | None = None) -> str:
    """The unit of `record`; with `instances`, the template unit NAME@.service of a set (record: export/sets.py)."""
    spec, stop, notes = record.spec, StopPlan.of(schedule), notes or Notes("#")
    respawn = Respawn.of(spec)
    lines = [
        *_header(record.name, instances),
        "[Unit]",
        f"Description={record.name}{' instance ' + PLACEHOLDER if instances else ''} (exported from daemonctl)",
        *_systemd_give_up(respawn),
        "",
        "[Service]",
        *_systemd_type(spec, notes),
        f"ExecStart={systemd_exec(spec.executable, spec.command)}",
        f"WorkingDirectory={systemd_word(spec.chdir, expand_dollar=False)}",
        f"UMask={spec.umask:04o}",
        *_systemd_env(spec),
        *_systemd_logs(record.name, spec, notes),
        *_systemd_identity(spec),
        *declared(spec, "systemd"),
        *undeclared(spec, "systemd", BY_HAND, "systemd", notes),
        *_systemd_ready(spec, notes),
        *_systemd_stop(stop, notes),
        *_systemd_restart(respawn, notes),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def _systemd_type(spec: StartSpec, notes: Notes) -> list[str]:
    if spec.forking:
        # systemd waits for the first process to exit, then takes the main PID from PIDFile=
        # (or guesses it, as daemonctl adopts the one process left), within TimeoutStartSec=.
        lines = ["Type=forking"]
        if spec.pid_from is not None:
            lines.append(f"PIDFile={systemd_word(spec.pid_from, expand_dollar=False)}")
        if spec.notify:
            lines += notes.cannot("--notify with --forking: a unit has one Type=, and it is forking")
        return lines
    # exec, not simple: like daemonctl start, a program that cannot be exec'd fails the start.
    return [f"Type={'notify' if spec.notify else 'exec'}"]


def _header(name: str, instances: int | None) -> list[str]:
    if instances is None:
        return [f"# {name}, exported by daemonctl. Install as /etc/systemd/system/{name}.service,",
                f"# then: systemctl daemon-reload && systemctl enable --now {name}"]
    return [f"# {name}, a set of {instances} instances exported by daemonctl: a template unit. Install as",
            f"# /etc/systemd/system/{name}@.service, then: systemctl daemon-reload &&",
            f"# systemctl enable --now {name}@{{1..{instances}}}"]


def _append(path: str) -> str:
    return "null" if path == "/dev/null" else "append:" + systemd_word(path, expand_dollar=False)


def _systemd_logs(name: str, spec: StartSpec, notes: Notes) -> list[str]:
    """The logs: appended to the same files; with --syslog, the journal instead (which forwards to syslog)."""
    lines = []
    if spec.syslog is not None:
        if spec.stdout != "/dev/null" or spec.stderr != "/dev/null":
            lines += notes.cannot(f"the log files next to --syslog: systemd sends the output to the journal "
                                  f"instead (journalctl -u {name})")
        lines += ["StandardOutput=journal", "StandardError=journal",
                  f"SyslogIdentifier={systemd_word(name, expand_dollar=False)}", f"SyslogFacility={spec.syslog}"]
        if spec.log_timestamps:
            lines.append("# --log-timestamps: the journal stamps every line itself")
        if spec.log_max_size is not None:
            lines.append("# --log-max-size: the journal rotates itself (journald.conf SystemMaxUse=)")
        return lines
    if spec.log_max_size is not None:
        lines += notes.cannot(f"--log-max-size {spec.log_max_size} --log-keep {spec.log_keep}: systemd never rotates "
                              "a file it appends to; rotate it with logrotate (copytruncate), or use the journal")
    if spec.log_timestamps:
        lines += notes.cannot("--log-timestamps: systemd writes the lines to a file as they are; the journal "
                              "(StandardOutput=journal) stamps them")
    return [*lines, f"StandardOutput={_append(spec.stdout)}", f"StandardError={_append(spec.stderr)}"]


def _systemd_env(spec: StartSpec) -> list[str]:
    lines = caller_env_comment(spec, "#")
    lines += [f"Environment={systemd_env(k, v)}" for k, v in spec.env.items()]
    if spec.env_file:
        if spec.env:
            lines.append("# systemd lets EnvironmentFile= override Environment=; daemonctl does the opposite")
        lines.append(f"EnvironmentFile={systemd_word(spec.env_file, expand_dollar=False)}")
    return lines

def _systemd_identity(spec: StartSpec) -> list[str]:
    user, group = user_group(spec)
    lines = []
    if user is not None:
        lines.append(f"User={systemd_word(user, expand_dollar=False)}")
    if group is not None:
        lines.append(f"Group={systemd_word(group, expand_dollar=False)}")
    return lines

def _systemd_ready(spec: StartSpec, notes: Notes) -> list[str]:
    lines = []
    if spec.notify or spec.forking:
        lines.append(f"TimeoutStartSec={spec.ready_timeout:g}")
    for option, value in readiness(spec, notify_ok=True):
        lines += notes.cannot(f"{option} {value}: systemd deems the service started once the program runs")
    if spec.wait and not spec.readiness:
        lines += notes.cannot(f"--wait {spec.wait:g}: systemd fails the start only when the exec fails")
    return lines


def _systemd_stop(stop: StopPlan, notes: Notes) -> list[str]:
    lines = []
    if stop.lost:
        names = ", ".join(signal_name(s) for s in stop.lost)
        lines += notes.cannot(f"{names} in the stop schedule: systemd goes straight to SIGKILL")
    lines += [f"KillSignal={signal_name(stop.signal)}", f"TimeoutStopSec={seconds(stop.timeout)}"]
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
