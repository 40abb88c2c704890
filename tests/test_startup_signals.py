"""Start-up and usage: a signal at any moment of a run, threads that import nothing, and every
usage error one line.

- The handlers of SIGINT, SIGTERM and SIGHUP are in place before reconciler imports anything
  but ``signal``; a signal the parent ignored (``nohup``) stays ignored.
- No module is first imported on a thread other than the main one: a thread importing while
  Ctrl-C interrupts the main thread mid-import can wait forever on an import lock left held
  (the start-up read once imported hashlib so, and a run hung). Commands run under an import
  hook that notes every module found on another thread.
- A loop of signals over the first 0.2 s of real runs: exit 130 and one line, or, for a
  signal sent before the handlers were in place (Python's own start-up, seen in
  /proc/PID/status), whatever Python does then; never a crash or a hang.
- A ledger URL the ledger cannot use, a number past its bound, an empty text option, --sheet
  with no workbook, bare ``reconciler``: one usage line (bare: a short usage), exit 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler import interrupts
from reconciler.cli import app
from reconciler.errors import EXIT_INTERRUPTED, INTERRUPTED

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "modification_view_errors"
CONFIRM = ROOT / "fixtures" / "confirm_modification"
XLSX = ROOT / "fixtures" / "modification_sent_xlsx"
runner = CliRunner()

posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
linux = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="/proc (Linux)")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _default_dispositions() -> None:
    """In the child: SIGINT, SIGTERM and SIGHUP as a terminal starts a command (the suite may
    itself run under nohup, or as a background job)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


# --------------------------------------------------------------------- the handlers come first

FIRST_IMPORTS = """
import _signal, json, sys
before = []
class Hook:
    def find_spec(self, name, path=None, target=None):
        if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
            before.append(name)
        return None
sys.meta_path.insert(0, Hook())
from reconciler.__main__ import main  # as the reconciler command does
caught = [callable(_signal.getsignal(s)) for s in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)]
print(json.dumps({"before": before, "caught": caught}))
"""


@posix
def test_the_handlers_are_in_place_before_reconciler_imports_anything() -> None:
    # A signal in reconciler's own imports (typing, re, pathlib, its error module) gave a
    # traceback or a silent exit -15/-1: nothing but `signal` may load before the handlers.
    done = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORTS],
        env=_env(),
        capture_output=True,
        text=True,
        preexec_fn=_default_dispositions,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert set(seen["before"]) <= {"reconciler", "__future__", "reconciler.__main__", "signal"}
    assert seen["caught"] == [True, True, True]


SETTINGS_AT_LOAD = """
import json, os, sys
seen = {}
class Hook:
    def find_spec(self, name, path=None, target=None):
        if name in ("numpy", "pyarrow") and name not in seen:
            seen[name] = [os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL")]
            sys.stderr.write("SEEN " + json.dumps({name: seen[name]}) + "\\n")
            sys.stderr.flush()
        return None
sys.meta_path.insert(0, Hook())
sys.argv = ["reconciler", "check", sys.argv[1], "--out", sys.argv[2]]
from reconciler.__main__ import main
main()
"""


@pytest.mark.parametrize(("preset", "threads"), [({}, "1"), ({"OPENBLAS_NUM_THREADS": "3"}, "3")])
def test_library_settings_are_in_place_before_numpy_and_pyarrow_load(
    tmp_path: Path, preset: dict[str, str], threads: str
) -> None:
    # One OpenBLAS thread (its spinning threads cost a tenth of a second of CPU a run; reconciler
    # does no linear algebra) and the C library's allocator for Arrow, unless the user chose.
    env = _env(**preset)
    for name in ("OPENBLAS_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL"):
        if name not in preset:
            env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", SETTINGS_AT_LOAD, str(DEMO / "sent.csv"), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the file has problems to fix
    assert "check.csv" in done.stdout
    seen: dict[str, list[str]] = {}
    for line in done.stderr.splitlines():
        if line.startswith("SEEN "):
            seen.update(json.loads(line[5:]))
    assert seen == {"numpy": [threads, "system"], "pyarrow": [threads, "system"]}


ARENAS = """
import ctypes, sys, threading
from reconciler.__main__ import _process_defaults
_process_defaults()
def work():
    kept = [bytearray(200_000) for _ in range(50)]
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # "Arena 0:", "Arena 1:", ... on stderr
"""


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):
        return False


@pytest.mark.skipif(not _glibc(), reason="malloc arenas are glibc's")
@pytest.mark.parametrize(("preset", "one"), [({}, True), ({"MALLOC_ARENA_MAX": "3"}, False)])
def test_threads_share_one_malloc_arena_unless_the_user_set_the_count(
    preset: dict[str, str], one: bool
) -> None:
    # Each thread's own arena keeps the memory it frees from the others: fresh pages, page
    # faults and a higher peak. One arena unless MALLOC_ARENA_MAX (or the tunable) says.
    env = _env(**preset)
    if not preset:
        env.pop("MALLOC_ARENA_MAX", None)
        env.pop("GLIBC_TUNABLES", None)
    done = subprocess.run(
        [sys.executable, "-c", ARENAS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    arenas = [line for line in done.stderr.splitlines() if line.startswith("Arena ")]
    assert (len(arenas) == 1) is one, done.stderr


HEAP_BLOCKS = """
import ctypes, json
from reconciler.__main__ import _process_defaults
_process_defaults()

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
block = ctypes.create_string_buffer(64 * 1024 * 1024)  # malloc'd, as Arrow's columns are
mapped = libc.mallinfo2().hblkhd  # bytes in blocks malloc mapped on their own
del block
print(json.dumps({"mapped": mapped, "kept": libc.mallinfo2().fordblks}))
"""


@pytest.mark.skipif(not _glibc(), reason="malloc's thresholds are glibc's")
@pytest.mark.parametrize(
    ("preset", "heap"),
    [
        ({}, True),
        ({"MALLOC_MMAP_THRESHOLD_": "131072"}, False),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}, False),
    ],
)
def test_large_blocks_come_from_the_heap_and_stay_unless_the_user_said(
    preset: dict[str, str], heap: bool
) -> None:
    # A block glibc maps on its own is unmapped when freed: the next lands on fresh pages.
    env = _env(**preset)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        if name not in preset:
            env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", HEAP_BLOCKS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    if heap:
        # Served from the heap, and kept there once freed, for the next block.
        assert seen["mapped"] < 64 * 1024 * 1024 and seen["kept"] >= 64 * 1024 * 1024, seen
    else:
        assert seen["mapped"] >= 64 * 1024 * 1024, seen


def test_the_entry_module_says_what_errors_says(monkeypatch: pytest.MonkeyPatch) -> None:
    # Importing the entry module installs its early handlers: put the test process's back.
    previous = {name: signal.getsignal(getattr(signal, name)) for name in interrupts.SIGNALS}
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    monkeypatch.delitem(sys.modules, "reconciler.__main__", raising=False)
    try:
        from reconciler import __main__ as entry
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
    from reconciler.errors import EXIT_INTERRUPTED

    assert f"reconciler: {INTERRUPTED}\n" == entry._INTERRUPTED_LINE
    assert entry._EXIT_INTERRUPTED == EXIT_INTERRUPTED
    assert entry._SIGNALS == interrupts.SIGNALS


def test_a_signal_ignored_at_start_stays_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = {name: signal.getsignal(getattr(signal, name)) for name in interrupts.SIGNALS}
    monkeypatch.setattr(interrupts, "_noted", [])
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        interrupts.install()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert callable(signal.getsignal(signal.SIGTERM))
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def _caught(pid: int) -> int:
    """The signals a process catches (SigCgt in /proc/PID/status); 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(x.split()[1], 16) for x in text.splitlines() if x.startswith("SigCgt:")), 0)


def _bit(sig: int) -> int:
    return 1 << (sig - 1)


def _demo(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "reconciler", "reconcile", str(DEMO / "sent.csv"),
        str(DEMO / "results.csv"), "--out", str(out), "--quiet", *extra,
    ]  # fmt: skip


@posix
@linux
def test_nohup_keeps_sighup_ignored(tmp_path: Path) -> None:
    # `nohup reconciler ... &`: the terminal closing (SIGHUP) must not stop the run.
    def like_nohup() -> None:
        _default_dispositions()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    out = tmp_path / "out"
    proc = subprocess.Popen(
        _demo(out),
        env=_env(RECONCILER_LEDGER=str(tmp_path / "ledger.sqlite")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=like_nohup,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if _caught(proc.pid) & _bit(signal.SIGTERM):  # the tool's handlers are in place
            break
        time.sleep(0.001)
    for _ in range(5):
        if proc.poll() is None:
            proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr.decode()  # the run finished: records need attention
    assert (out / "summary.json").is_file()


# ------------------------------------------------------- cyclic garbage after start-up

GC_SEEN = """
import gc, json, os, sys
seen = {"before": 0, "during": 0, "after": 0}
now = ["before"]
started = []
def count(phase, info):
    if phase == "start":
        seen[now[0]] += 1
gc.callbacks.append(count)
import reconciler.__main__ as entry
from reconciler.readers import prefetch
start_reading, done_starting = prefetch.start, entry._after_start_up
def start(argv):  # the libraries load from here on
    now[0] = "during"
    start_reading(argv)
def after_start_up():
    done_starting()
    started.append(gc.get_freeze_count())
    now[0] = "after"
prefetch.start, entry._after_start_up = start, after_start_up
def report(code, _exit=os._exit):
    with open(os.environ["GC_SEEN_FILE"], "w") as f:
        json.dump({**seen, "frozen": started, "enabled": gc.isenabled()}, f)
    _exit(code)
os._exit = report
sys.argv = ["reconciler", *sys.argv[1:]]
try:
    entry.main()
finally:
    report(0)
"""


def test_no_collection_while_starting_and_collections_again_after(tmp_path: Path) -> None:
    """Start-up's objects are not walked by the cyclic garbage collector (80-90 ms of a run's
    CPU): no collection runs while the libraries load (from the start-up read on), they are
    set aside when start-up is over, and the command's own cyclic garbage is collected as
    usual."""
    found = tmp_path / "gc.json"
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", GC_SEEN, *map(str, THREADED_COMMANDS["reconcile"]), "--out",
         str(out), "--no-ledger"],
        env=_env(GC_SEEN_FILE=str(found)),
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the run finished: records need attention
    assert (out / "summary.json").is_file()
    seen = json.loads(found.read_text())
    assert seen["during"] == 0, seen
    assert len(seen["frozen"]) == 1 and seen["frozen"][0] > 10_000, seen
    assert seen["enabled"] and seen["after"] > 0, seen


# ------------------------------------------------------------- nothing imported on a thread

THREAD_IMPORTS = """
import json, os, sys, threading
found = []
class Hook:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is not threading.main_thread():
            found.append([threading.current_thread().name, name])
        return None
sys.meta_path.insert(0, Hook())
def report(code, _exit=os._exit):
    with open(os.environ["THREAD_IMPORTS_FILE"], "w") as f:
        json.dump(found, f)
    _exit(code)
os._exit = report
from reconciler.__main__ import main
sys.argv = ["reconciler", *sys.argv[1:]]
try:
    main()
finally:
    report(0)
"""

THREADED_COMMANDS = {
    "reconcile": ["reconcile", DEMO / "sent.csv", DEMO / "results.csv"],
    "reconcile_xlsx": ["reconcile", XLSX / "sent.xlsx", XLSX / "results.csv"],
    "reconcile_no_report": [
        "reconcile", DEMO / "sent.csv", DEMO / "results.csv", "--no-report",
        "--actions", DEMO / "actions.csv",
    ],
    "reconcile_updates": [
        "reconcile", CONFIRM / "sent.csv", CONFIRM / "results.csv", CONFIRM / "submission.json",
        "--updates", CONFIRM / "updates-page1.json", "--updates", CONFIRM / "updates-page2.json",
        "--no-xlsx",
    ],
    "check": ["check", DEMO / "sent.csv", "--fix"],
    "check_xlsx": ["check", XLSX / "sent.xlsx", "--fix"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(THREADED_COMMANDS))
def test_no_module_is_first_imported_on_another_thread(tmp_path: Path, name: str) -> None:
    found = tmp_path / "found.json"
    args = [str(a) for a in THREADED_COMMANDS[name]]
    done = subprocess.run(
        [sys.executable, "-c", THREAD_IMPORTS, *args, "--out", str(tmp_path / "out")],
        env=_env(THREAD_IMPORTS_FILE=str(found), RECONCILER_LEDGER=str(tmp_path / "ledger.sqlite")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "out" / "summary.json").is_file() or name.startswith("check")
    assert json.loads(found.read_text()) == []


def test_report_imports_nothing_on_another_thread(tmp_path: Path) -> None:
    out = tmp_path / "out"
    subprocess.run(_demo(out, "--no-ledger"), env=_env(), capture_output=True, timeout=300)
    found = tmp_path / "found.json"
    done = subprocess.run(
        [sys.executable, "-c", THREAD_IMPORTS, "report", str(out)],
        env=_env(THREAD_IMPORTS_FILE=str(found)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(found.read_text()) == []


# ------------------------------------------------------------------------ the signal loop

# (signal, delay, counted from): from the process's start (Python's own start-up included:
# a signal there ends the process as Python does, and the check below says so), or from the
# moment its handlers are in place (exit 130 and one line, always).
LOOP = [
    (name, delay, since)
    for name in ("SIGINT", "SIGTERM", "SIGHUP")
    for since, delays in (
        ("spawn", (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2)),
        ("handlers", (0.0, 0.001, 0.003, 0.006, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)),
    )
    for delay in delays
]


@posix
@linux
@pytest.mark.parametrize(("name", "delay", "since"), LOOP)
def test_every_signal_in_the_first_moments_is_one_line_and_exit_130(
    tmp_path: Path, name: str, delay: float, since: str
) -> None:
    sig = getattr(signal, name)
    out = tmp_path / "out"
    handlers = _bit(signal.SIGTERM) | _bit(signal.SIGHUP)
    proc = subprocess.Popen(
        _demo(out),
        env=_env(RECONCILER_LEDGER=str(tmp_path / "ledger.sqlite")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_dispositions,
    )
    started = time.monotonic()
    if since == "handlers":
        while time.monotonic() - started < 30 and proc.poll() is None:
            if _caught(proc.pid) & handlers == handlers:
                break
    time.sleep(delay)
    guarded = _caught(proc.pid) & handlers == handlers  # the tool's handlers are in place
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{name} {delay} s after {since}: the process hung")
    stderr = err.decode(errors="replace")
    rc = proc.returncode
    if rc == 1 and (out / "summary.json").is_file():  # finished before the signal
        return
    assert not out.exists() or (out / "summary.json").is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    if guarded or since == "handlers":
        assert rc == EXIT_INTERRUPTED, (rc, stderr)
        assert stderr.splitlines() == [f"reconciler: {INTERRUPTED}"]
    else:  # Python's own start-up, before any line of reconciler ran
        assert rc in (EXIT_INTERRUPTED, -sig) or (
            sig == signal.SIGINT and rc in (1, -sig) and "KeyboardInterrupt" in stderr
        ), (rc, stderr)


# ------------------------------------------------------------------------ usage: one line


def _one_line(*args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and "internal error" not in lines[0]
    return lines[0]


def _reconcile(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "reconcile", str(DEMO / "sent.csv"), str(DEMO / "results.csv"),
        "--out", str(tmp_path / "out"), *extra,
    ]  # fmt: skip


BAD_LEDGERS = [
    ("sqlite://", "in memory"),
    ("sqlite:///", "in memory"),
    ("sqlite:///:memory:", "in memory"),
    ("sqlite:///file:x.db?mode=memory&uri=true", "in memory"),
    ("mysql://u:secret@localhost:1/db", "does not run on mysql"),
    ("oracle://x", "does not run on oracle"),
    ("mssql+pyodbc://x", "does not run on mssql"),
    ("bogus://", "does not run on bogus"),
    ("http://example.com/x", "does not run on http"),
    ("postgresql+asyncpg://x/y", "does not use the driver asyncpg"),
    ("postgresql://localhost:abc/db", "is not a database URL"),
    ("postgresql://u@[::1", "is not a database URL"),
    ("://", "is not a database URL"),
]


@pytest.mark.parametrize(("url", "why"), BAD_LEDGERS)
def test_a_ledger_url_that_cannot_be_used_is_one_line(tmp_path: Path, url: str, why: str) -> None:
    line = _one_line(*_reconcile(tmp_path, "--ledger", url))
    assert line.startswith("reconciler: --ledger ")
    assert why in line
    assert "secret" not in line
    assert not (tmp_path / "out").exists()


def test_a_ledger_url_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    line = _one_line(*_reconcile(tmp_path), env={"RECONCILER_LEDGER": "sqlite://"})
    assert line.startswith("reconciler: RECONCILER_LEDGER 'sqlite://': ")


@pytest.mark.parametrize("form", ["path", "url"])
def test_a_ledger_in_a_folder_that_does_not_exist_is_refused_not_created(
    tmp_path: Path, form: str
) -> None:
    missing = tmp_path / "no" / "such" / "ledger.sqlite"
    given = str(missing) if form == "path" else f"sqlite:///{missing}"
    line = _one_line(*_reconcile(tmp_path, "--ledger", given))
    assert f"the folder {missing.parent} does not exist" in line
    assert not (tmp_path / "no").exists()


def test_the_default_ledger_folder_is_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "RECONCILER_LEDGER": ""}
    result = runner.invoke(app, _reconcile(tmp_path, "--quiet"), env=env)
    assert result.exit_code == 1, result.output
    assert (home / "data" / "reconciler" / "ledger.sqlite").is_file()


def test_a_missing_postgresql_driver_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # ``import psycopg`` fails
    line = _one_line(*_reconcile(tmp_path, "--ledger", "postgresql://u@localhost/db"))
    assert "no driver for PostgreSQL" in line and "reconciler[postgres]" in line


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--max-rows", "9223372036854775808"), "--max-rows"),
        (("--max-rows", "99999999999999999999999"), "--max-rows"),
        (("--max-rows", "5000001"), "--max-rows"),
        (("--timeout", "inf"), "--timeout"),
        (("--timeout", "1e400"), "--timeout"),
        (("--timeout", "604801"), "--timeout"),
        (("--timezone", ""), "--timezone"),
        (("--timezone", "  "), "--timezone"),
        (("--batch", ""), "--batch"),
        (("--sheet", ""), "--sheet"),
        (("--submitted", ""), "--submitted"),
        (("--ledger", ""), "--ledger"),
        (("--sheet", "Errors"), "--sheet"),  # no input is a workbook
    ],
)
def test_an_option_value_out_of_bounds_or_empty_is_one_line(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    line = _one_line(*_reconcile(tmp_path, *args))
    assert option in line
    assert not (tmp_path / "out").exists()


def test_the_largest_max_rows_runs(tmp_path: Path) -> None:
    result = runner.invoke(app, _reconcile(tmp_path, "--max-rows", "5000000", "--quiet"))
    assert result.exit_code == 1, result.output


def test_max_rows_is_bounded_by_the_records_an_input_may_hold() -> None:
    from reconciler.options import MAX_ROWS_LIMIT
    from reconciler.readers.limits import MAX_RECORDS

    assert MAX_ROWS_LIMIT == MAX_RECORDS


def test_sheet_with_no_workbook_input_is_refused_by_check(tmp_path: Path) -> None:
    line = _one_line("check", str(DEMO / "sent.csv"), "--out", str(tmp_path / "o"), "--sheet", "X")
    assert "no input is a workbook (sent.csv)" in line


def test_sheet_with_a_workbook_input_is_used(tmp_path: Path) -> None:
    line = _one_line(
        "reconcile", str(XLSX / "sent.xlsx"), str(XLSX / "results.csv"),
        "--out", str(tmp_path / "out"), "--sheet", "Nope",
    )  # fmt: skip
    assert "has no sheet named 'Nope'" in line  # the workbook's sheet was looked for


def test_bare_reconciler_prints_a_short_usage() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].endswith("COMMAND [ARGS]...")
    commands = [line.split()[0] for line in lines if line.startswith("  ")]
    assert {"reconcile", "check", "report", "history", "codes", "explain"} <= set(commands)
    assert len(lines) == len(commands) + 3
    assert not any(ch in result.output for ch in "╭╮╰╯│─")
    assert result.stdout == ""


def test_bare_reconciler_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler"], env=_env(), capture_output=True, text=True
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) < 15 and "  reconcile  " in done.stderr
    assert done.stdout == ""
