"""The tricks of daemonctl/speedups.py behave as what they stand in for (trick 5: typing.NamedTuple; trick 7: ctypes).

Each check runs on a class made both ways from the same body and compares.
"""

import copy
import json
import pickle
import typing
from typing import Any

import pytest

from daemonctl import speedups


def make(base: Any) -> Any:
    class Point(base):
        """A point."""

        x: int
        y: int = 0
        label: str | None = None

        @property
        def norm1(self) -> int:
            return abs(self.x) + abs(self.y)

        def moved(self, dx: int) -> "Any":
            return self._replace(x=self.x + dx)

        @classmethod
        def origin(cls) -> "Any":
            return cls(0)

    return Point


FAST, REAL = make(speedups.NamedTuple), make(typing.NamedTuple)
BOTH = pytest.mark.parametrize("cls", [FAST, REAL], ids=["speedups", "typing"])

Point = FAST  # pickle finds the class by its module-level name
Point.__qualname__ = "Point"


def test_it_is_not_typings_class() -> None:
    assert speedups.NamedTuple is not typing.NamedTuple


@BOTH
def test_construction_by_position_keyword_and_default(cls: Any) -> None:
    assert tuple(cls(1)) == (1, 0, None)
    assert tuple(cls(1, 2, "a")) == (1, 2, "a")
    assert tuple(cls(y=5, x=1)) == (1, 5, None)
    assert tuple(cls(1, label="b")) == (1, 0, "b")
    a = cls(3, 4)
    x, y, label = a
    assert (x, y, label) == (3, 4, None) and a[1] == 4 and len(a) == 3


@BOTH
def test_the_same_errors_on_bad_calls(cls: Any) -> None:
    for args, kwargs in [((), {}), ((1, 2, 3, 4), {}), ((1,), {"x": 2}), ((1,), {"z": 2}), ((), {"y": 1})]:
        with pytest.raises(TypeError):
            cls(*args, **kwargs)


def test_error_messages_name_the_argument() -> None:
    with pytest.raises(TypeError, match="'x'"):
        FAST()
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        FAST(1, x=2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        FAST(1, z=2)


@BOTH
def test_tuple_behaviour_and_helpers(cls: Any) -> None:
    a = cls(1, 2)
    assert a == (1, 2, None) and a == cls(1, 2) and hash(a) == hash((1, 2, None)) and a != cls(2, 2)
    assert a._replace(y=7) == cls(1, 7) and type(a._replace(y=7)) is cls
    with pytest.raises(ValueError):
        a._replace(z=1)
    assert a._asdict() == {"x": 1, "y": 2, "label": None}
    assert cls._fields == ("x", "y", "label")
    assert cls._field_defaults == {"y": 0, "label": None}
    assert cls._make([4, 5, "c"]) == cls(4, 5, "c")
    with pytest.raises(TypeError):
        cls._make([1])
    assert cls.__match_args__ == ("x", "y", "label")
    assert repr(a) == "Point(x=1, y=2, label=None)"
    assert a.norm1 == 3 and a.moved(2) == cls(3, 2) and cls.origin() == cls(0)
    assert cls.__doc__ == "A point." and cls.__name__ == "Point"
    assert isinstance(a, tuple) and not hasattr(a, "__dict__")
    with pytest.raises(AttributeError):
        a.x = 5
    assert json.dumps(a) == "[1, 2, null]"
    assert copy.copy(a) == a and copy.deepcopy(a) == a and type(copy.deepcopy(a)) is cls
    match a:
        case cls(x=1, y=y_value):
            assert y_value == 2
        case _:
            raise AssertionError("no match")


def test_pickles() -> None:
    assert pickle.loads(pickle.dumps(Point(1, 2))) == Point(1, 2)


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError):
        class Bad(speedups.NamedTuple):
            a: int = 0
            b: int


def test_syscall_calls_libc_without_importing_ctypes() -> None:
    """Trick 7: a fresh interpreter gets getpid() right through it, and never loads ctypes for it."""
    import subprocess
    import sys

    code = ("import os, sys\nfrom daemonctl.speedups import syscall\n"
            "print(syscall()(39 if os.uname().machine == 'x86_64' else 172) == os.getpid(), 'ctypes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "True False\n"


def test_syscall_failure_is_minus_one() -> None:
    assert speedups.syscall()(-1) == -1  # no such system call: ENOSYS
