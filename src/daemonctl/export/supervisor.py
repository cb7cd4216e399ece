"""export supervisor: a daemon's record as a supervisord [program:NAME] section."""

from __future__ import annotations

from daemonctl.export.base import (
    Notes,
    Respawn,
    StopPlan,
    caller_env_comment,
    declared,
    readiness,
    undeclared,
    user_group,
)
from daemonctl.quoting import Unquotable, supervisor_env, supervisor_word
from daemonctl.schedule import Schedule
from daemonctl.signals import signal_name
from daemonctl.store.record import Record, StartSpec

# The recorded start options this module writes itself; the others' settings are
# declared in start_options.py (or the option is noted as not exported).
BY_HAND = frozenset({
    "pidfile", "stdout", "stderr", "chdir", "umask", "env", "wait", "env_file", "respawn", "restart_delay",
    "restart_delay_max", "min_uptime", "max_restarts", "ready_file", "ready_port", "ready_log", "notify",
    "ready_timeout", "user", "group", "nice", "instances", "forking", "pid_from",
    "log_max_size", "log_keep", "log_timestamps", "syslog",
})
SUPERVISOR_SIGNALS = {"TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"}


def supervisor_section(record: Record, schedule: Schedule, notes: Notes | None = None,
                       instances: int | None = None) -> str:
    """The section of `record`; with `instances`, one section for a set's N processes (numprocs)."""
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
        f"; {record.name}, {f'a set of {instances} instances ' if instances else ''}exported by daemonctl: "
        "add to supervisord's configuration",
        f"[program:{record.name}]",
        *_numprocs(instances),
        f"command={command}",
        f"directory={spec.chdir.replace('%', '%%')}",
        f"umask={spec.umask:03o}",
        *_supervisor_env(spec),
        *_supervisor_logs(spec, notes),
        *identity,
        *nice_notes,
        *declared(spec, "supervisor"),
        *undeclared(spec, "supervisor", BY_HAND, "supervisord", notes),
        *(notes.cannot("--forking: supervisord runs programs in the foreground only; "
                       "give the program its own option not to daemonize (nginx: daemon off;)") if spec.forking else []),
        "autostart=true",
        *_supervisor_restart(Respawn.of(spec), spec, notes),
        *[ln for option, value in readiness(spec, notify_ok=False)
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
    lines = caller_env_comment(spec, ";")
    if spec.env_file:
        from daemonctl.program_env import env_file_rights
        from daemonctl.store.envfile import load_env_file

        # supervisord has no environment file: its variables are copied in as they are now.
        lines.append(f"; variables read from {spec.env_file} at export time")
        env = {**load_env_file(spec.env_file, env_file_rights(spec)), **env}
    if env:
        lines.append(f"environment={supervisor_env(env)}")
    return lines


def _supervisor_logs(spec: StartSpec, notes: Notes) -> list[str]:
    def log(stream: str, path: str) -> list[str]:
        target = "NONE" if path == "/dev/null" else path.replace("%", "%%")
        lines = [f"{stream}_logfile={target}"]
        if spec.log_max_size is None:
            lines.append(f"{stream}_logfile_maxbytes=0")  # daemonctl does not rotate this log: neither should supervisord
        elif path != "/dev/null":
            # supervisord rotates by size too, keeping LOG.1 to LOG.N.
            lines += [f"{stream}_logfile_maxbytes={spec.log_max_size}", f"{stream}_logfile_backups={spec.log_keep}"]
        if spec.syslog is not None:
            lines.append(f"{stream}_syslog=true")  # supervisord 4: as well as the file, tagged with the program's name
        return lines

    lines = []
    if spec.syslog is not None:
        lines += notes.cannot(f"--syslog={spec.syslog}: supervisord logs to syslog at a facility and level of its own, "
                              "tagged NAME without [PID]")
    if spec.log_timestamps:
        lines += notes.cannot("--log-timestamps: supervisord writes the program's lines as they are")
    if spec.stderr == spec.stdout:
        return lines + log("stdout", spec.stdout) + ["redirect_stderr=true"]
    return lines + log("stdout", spec.stdout) + log("stderr", spec.stderr)


def _supervisor_identity(spec: StartSpec, notes: Notes) -> list[str]:
    user, group = user_group(spec)
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
    if spec.nice < 0 and user_group(spec)[0] is not None:
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


def _numprocs(instances: int | None) -> list[str]:
    if instances is None:
        return []
    return ["process_name=%(program_name)s@%(process_num)d", f"numprocs={instances}", "numprocs_start=1"]
