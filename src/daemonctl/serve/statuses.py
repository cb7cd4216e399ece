"""The HTTP status of each exit status: what the CLI would exit with, the API answers with.

| exit | meaning (see the contract's table)                               | HTTP |
|------|------------------------------------------------------------------|------|
| 0    | done (started, already running, stopped, sent)                    | 200  |
| 1    | the operation failed (exec failed, died within --wait, still      | 500  |
|      | running after the stop schedule, a file not writable)             |      |
| 2    | bad usage (a bad name, an unknown signal)                         | 400  |
| 3    | not running, nothing known of NAME                                | 404  |
| 4    | insufficient privilege, or a record or pidfile refused            | 403  |
| 5    | the recorded PROGRAM is not found or not executable               | 500  |
| 6    | no record of NAME to start from                                   | 404  |
| 7    | signal: the daemon is not running                                 | 409  |
| 128+N| the operation was interrupted by signal N (the server is stopping)| 500  |
"""

from http import HTTPStatus

from daemonctl.exitcodes import ExitStatus

HTTP_BY_EXIT: dict[int, int] = {
    ExitStatus.OK: HTTPStatus.OK,
    ExitStatus.FAILURE: HTTPStatus.INTERNAL_SERVER_ERROR,
    ExitStatus.USAGE: HTTPStatus.BAD_REQUEST,
    ExitStatus.NOT_RUNNING: HTTPStatus.NOT_FOUND,
    ExitStatus.PRIVILEGE: HTTPStatus.FORBIDDEN,
    ExitStatus.NOT_FOUND: HTTPStatus.INTERNAL_SERVER_ERROR,
    ExitStatus.NO_PROGRAM: HTTPStatus.NOT_FOUND,
    ExitStatus.SIGNAL_NOT_RUNNING: HTTPStatus.CONFLICT,
}

# The only statuses the API answers with (the contract's); anything else http.server would say maps to 400.
ALLOWED = frozenset({200, 400, 401, 403, 404, 409, 500})


def for_exit(code: int) -> int:
    return int(HTTP_BY_EXIT.get(code, HTTPStatus.INTERNAL_SERVER_ERROR))


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
