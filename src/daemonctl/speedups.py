"""Every trick daemonctl plays for speed: what each buys, and when to delete it.

A run of daemonctl is mostly the interpreter's start and Click's import: the floor,
`python3 -c 'import click'`, is 170 M instructions and about 32 ms here. The
README's targets (Performance) hold each command within 1.2x to 1.3x of it, so
daemonctl's own share is a few milliseconds, and these tricks are most of the
margin. Gains were measured by undoing the one trick and measuring again, with
callgrind (benchmarks/instructions.py, counting daemonctl's own process) and wall
medians (`make bench`), with Python 3.11.7 and Click 8.5.1.

| # | trick | where | gain |
|---|---|---|---|
| 1 | gc off while Click and the CLI load, then frozen; young collections rarer | cli/speedups.py | 8 M, and 2 M on `start` |
| 2 | os._exit, not the interpreter's teardown | cli/speedups.py | 6 to 7 M on every command |
| 3 | exact short options spelled long before Click parses | cli/speedups.py | 6.4 M on `start -n`, `status -p` |
| 4 | -h/--help and -V/--version written out, no gettext | cli/speedups.py | about 4 M on `start`, `status` |
| 5 | NamedTuple classes made without eval (below) | here | 14 M and 1.5 ms on `start` |
| 6 | the daemon cloned into its cgroup (clone3) | proc/clone_into.py | 7 to 12 ms of wall time on `start` |
| 7 | libc's syscall() reached through _ctypes, not ctypes (below) | here | 1 ms of wall time on `start` |
| 8 | no typing at run time on the resident side (Protocol below) | the supervisor's modules | 0.9 MB of every supervisor |
| 9 | the _signal C module for a start's interrupt guard (below) | interrupts.py | 0.4 ms and 3 M on `start` |
| 10 | each command's module imported when it runs (LazyCommands) | cli/speedups.py | 3 M and 0.4 ms on `start` |

The tricks that build Click objects live in cli/speedups.py, since nothing outside
cli/ may know Click; trick 6 is the kernel's own way to place a process and lives
with the other process code. Rules rather than code, checked by tests: modules
import what is costly (json, re, the core) inside the function that needs it
(tests/unit/test_cli.py, test_supervisor_lean.py); every module takes NamedTuple
from here (tests/unit/test_namedtuple_annotations.py).

When to delete each: measure again after a Python or Click upgrade, and drop a
trick that no longer pays for itself:
1. when the interpreter's collector no longer scans the objects an import creates
   (the incremental collector of newer Pythons may do it), or its default threshold
   stops collecting a short command's few thousand objects several times;
2. when interpreter teardown stops costing more than a status check's own work;
3. when Click stops building a difflib "did you mean" list while it tries a short
   option as a long one (click.parser, _match_long_opt);
4. when Click's default help and version options stop calling gettext at creation;
5. when typing.NamedTuple stops compiling a `__new__` with eval for every class
   (collections.namedtuple does, in every Python up to 3.13);
6. when Python's os module can fork or spawn into a cgroup;
7. when importing ctypes costs less than 0.3 ms;
8. when importing typing costs less than 0.2 MB (tests/unit/test_supervisor_lean.py
   holds the supervisor to it until then);
9. when signal.py stops building its enums at import (it makes them with
   IntEnum._convert_ from every name of _signal);
10. never, as long as Click builds every option of a command when it is declared
   (it is how Click's documentation itself loads subcommands lazily).

Dropped (2026-11-30), then kept for one module (2026-12-01): `import _signal as
signal` in eight modules, a private CPython module, crept through the code. Only a
start's interrupt guard uses it now, through `raw_signal` here; every other module
imports signal where it needs it (tests/unit/test_cli.py checks that a start loads
no signal.py).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

__all__ = ["NamedTuple", "Protocol", "raw_signal", "syscall"]

try:
    from collections import _tuplegetter  # type: ignore[attr-defined]  # the C descriptor namedtuple uses
except ImportError:  # pragma: no cover - another interpreter

    def _tuplegetter(index: int, doc: str) -> property:
        return property(itemgetter(index), doc=doc)


TYPE_CHECKING = False
if TYPE_CHECKING:
    # What mypy checks every class against: the real thing, field for field.
    import signal as raw_signal
    from typing import Any
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
else:
    # Trick 8: a Protocol is an interface for mypy; at run time a plain base does, and the
    # resident supervisor (loop, pool, rotation) never loads typing, 0.9 MB resident.
    # `Any` and the like stay in annotations, imported under TYPE_CHECKING.
    Protocol = object
    # Trick 9: signal(), SIG_IGN and the numbers as the C module has them (ints, no enums):
    # what a start's interrupt guard needs (interrupts.py), without signal.py's 0.4 ms.
    import _signal as raw_signal


    class _Maker(type):
        def __new__(mcls, typename: str, bases: tuple[type, ...], ns: dict[str, Any]) -> type:
            if not bases:  # NamedTuple itself
                return super().__new__(mcls, typename, bases, ns)
            return _named_tuple(typename, ns)

    class NamedTuple(metaclass=_Maker):
        """Trick 5: `class X(NamedTuple)` as typing's, without its cost.

        typing.NamedTuple goes through collections.namedtuple, which compiles a
        `__new__` for each class with eval, and checks each annotation: about
        0.6 M instructions a class, and a `start` makes 26 of them. The class made
        here is the same tuple subclass (fields, defaults, `_replace`, `_asdict`,
        `_fields`, `_field_defaults`, `_make`, repr, pickling, methods and
        properties of the body); its `__new__` binds keyword arguments in Python,
        a little slower per instance, and a run makes few instances.
        """


def _named_tuple(typename: str, ns: dict[str, Any]) -> type:
    fields = tuple(ns.get("__annotations__", {}))
    defaults = tuple(ns[f] for f in fields if f in ns)
    n, first_default = len(fields), len(fields) - len(defaults)
    if any(f not in ns for f in fields[first_default:]):
        raise TypeError(f"{typename}: a field without a default follows one with a default")
    new_tuple = tuple.__new__

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != n:
            args = _bind(typename, fields, first_default, defaults, args, kwargs)
        return new_tuple(cls, args)

    def _make(cls: type, iterable: Any) -> Any:
        result: tuple[Any, ...] = new_tuple(cls, iterable)
        if len(result) != n:
            raise TypeError(f"Expected {n} arguments, got {len(result)}")
        return result

    def _replace(self: tuple[Any, ...], **changes: Any) -> Any:
        result = _make(type(self), map(changes.pop, fields, self))
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return result

    def __repr__(self: tuple[Any, ...]) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={v!r}' for f, v in zip(fields, self, strict=True))})"

    def _asdict(self: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(fields, self, strict=True))

    def __getnewargs__(self: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(self)

    body: dict[str, Any] = {k: v for k, v in ns.items() if k not in fields}
    __new__.__qualname__ = f"{typename}.__new__"
    body.update(
        __slots__=(),
        __new__=__new__,
        _make=classmethod(_make),
        _replace=_replace,
        __repr__=__repr__,
        _asdict=_asdict,
        __getnewargs__=__getnewargs__,
        _fields=fields,
        _field_defaults=dict(zip(fields[first_default:], defaults, strict=True)),
        __match_args__=fields,
    )
    body.setdefault("__doc__", f"{typename}({', '.join(fields)})")
    for index, name in enumerate(fields):
        body[name] = _tuplegetter(index, f"Alias for field number {index}")
    return type(typename, (tuple,), body)


def _bind(
    typename: str, fields: tuple[str, ...], first_default: int, defaults: tuple[Any, ...],
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> tuple[Any, ...]:
    """The values of every field from positional and keyword arguments, as a call binds them."""
    if len(args) > len(fields):
        raise TypeError(f"{typename}.__new__() takes {len(fields) + 1} positional arguments but {len(args) + 1} were given")
    values = list(args)
    for index in range(len(args), len(fields)):
        name = fields[index]
        if name in kwargs:
            values.append(kwargs.pop(name))
        elif index >= first_default:
            values.append(defaults[index - first_default])
        else:
            raise TypeError(f"{typename}.__new__() missing required argument: {name!r}")
    if kwargs:
        extra = next(iter(kwargs))
        if extra in fields:
            raise TypeError(f"{typename}.__new__() got multiple values for argument {extra!r}")
        raise TypeError(f"{typename}.__new__() got an unexpected keyword argument {extra!r}")
    return tuple(values)


_syscall: Callable[..., int] | None = None


def syscall() -> Callable[..., int]:
    """Trick 7: libc's syscall(), called as `syscall()(number, *args)`: -1 on failure (errno aside).

    Arguments as ctypes passes them untyped: an int as a C int, bytes as a pointer
    to them, None as NULL. Built on _ctypes, the C module under ctypes: ctypes'
    own Python part costs 1.2 ms and 7 M instructions to import, paid by the
    daemon's intermediate process on every start (clone3, proc/clone_into.py) and
    by its grandchild where the caller left reserved signals ignored (proc/sigreset.py).
    Falls back to ctypes where _ctypes is not what it was in CPython 3.11 to 3.13.
    """
    global _syscall
    if _syscall is None:
        try:
            import _ctypes

            base: Any = _ctypes._SimpleCData  # generic to typeshed, not at run time

            class _Long(base):  # type: ignore[misc]
                _type_ = "l"

            class _Function(_ctypes.CFuncPtr):
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = _Long

            _syscall = _Function(_ctypes.dlsym(_ctypes.dlopen(None, 0), "syscall"))  # type: ignore[arg-type]  # NULL: this process
        except (ImportError, AttributeError, OSError, TypeError):  # pragma: no cover - another interpreter
            import ctypes

            _syscall = ctypes.CDLL(None, use_errno=True).syscall
    return _syscall
