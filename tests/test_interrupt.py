"""Ctrl-C (and SIGTERM) at any moment leaves the previous outputs or the complete new ones.

A real subprocess (``python -m reconciler reconcile``) runs on a generated file big enough to
take a second or two. Two complete runs give the two possible states of ``--out``: ``A`` (the
previous outputs) and ``B`` (what the interrupted command writes when it finishes: the same
inputs with ``--max-rows``, so every byte-level difference is visible). Each interrupted run
must leave ``--out`` byte-identical to one of them, with no staging folder (``.OUT.*.tmp``) or
backup (``.OUT.old-*``) left beside it. Signals are sent at fixed delays (reading, tying) and
right after the staging folder appears (writing), which is found by polling the parent folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import interrupts, writers
from reconciler.errors import INTERRUPTED

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 60_000
EPOCH = "1700000000"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _generate(records: int, folder: Path) -> tuple[Path, Path]:
    spec = importlib.util.spec_from_file_location(
        "bench_generate", ROOT / "benchmarks" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sent, results = module.generate(records, folder)
    return Path(sent), Path(results)


@dataclass(frozen=True, slots=True)
class Setup:
    sent: Path
    results: Path
    work: Path
    a: dict[str, bytes]  # outputs of a complete run without --max-rows
    b: dict[str, bytes]  # outputs of a complete run with --max-rows (what runs below write)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SOURCE_DATE_EPOCH"] = EPOCH
    # Runs are compared byte for byte with the first: a ledger would tell the later ones
    # that the batch was reconciled before (test_ledger covers an interrupted run's ledger).
    env["RECONCILER_LEDGER"] = "off"
    return env


def _command(setup_or_paths: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    sent, results = setup_or_paths
    return [
        sys.executable, "-m", "reconciler", "reconcile", str(sent), str(results),
        "--out", str(out), "--no-report", "--no-xlsx", "--quiet", *extra,
    ]  # fmt: skip


B_ARGS = ("--max-rows", "5000")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    work = tmp_path_factory.mktemp("interrupt")
    sent, results = _generate(RECORDS, work / "data")
    for name, extra in (("ref_a", ()), ("ref_b", B_ARGS)):
        done = subprocess.run(
            _command((sent, results), work / name, *extra), env=_env(), capture_output=True
        )
        assert done.returncode == 1, done.stderr
    return Setup(sent, results, work, snapshot(work / "ref_a"), snapshot(work / "ref_b"))


def _default_dispositions() -> None:
    """In the child: the signals as a terminal starts a command. A signal ignored at start
    stays ignored (nohup), so a suite run under nohup would otherwise see SIGHUP ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _start(setup: Setup, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _command((setup.sent, setup.results), out, *B_ARGS),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_dispositions,
    )


def _wait_for_library(proc: subprocess.Popen[bytes], name: str) -> None:
    """Wait until the process has mapped a shared library whose path holds ``name`` (Linux:
    /proc/PID/maps). A fixed pause can land, on a busy machine, before the tool's own code
    runs at all; elsewhere than Linux it is all there is."""
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if name in maps.read_text():
                return
        except OSError:
            time.sleep(0.3)
            return
        time.sleep(0.002)


def _wait_for_handlers(proc: subprocess.Popen[bytes]) -> None:
    """Wait until the process catches SIGHUP and SIGTERM (Linux: SigCgt in /proc/PID/status)."""
    wanted = (1 << (signal.SIGHUP - 1)) | (1 << (signal.SIGTERM - 1))
    status = Path(f"/proc/{proc.pid}/status")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            caught = next(
                int(line.split()[1], 16)
                for line in status.read_text().splitlines()
                if line.startswith("SigCgt:")
            )
        except (OSError, StopIteration):
            return
        if caught & wanted == wanted:
            return
        time.sleep(0.001)


def _wait_for_staging(parent: Path, name: str, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.endswith(".tmp") for p in leftovers(parent, name)):
            return True
        time.sleep(0.001)
    return False


@contextmanager
def previous_outputs(setup: Setup, name: str) -> Iterator[Path]:
    """An --out folder holding the complete outputs ``A`` of an earlier run."""
    parent = setup.work / name
    parent.mkdir()
    out = parent / "OUT"
    out.mkdir()
    for file, data in setup.a.items():  # its manifest included
        (out / file).write_bytes(data)
    assert writers.MARKER in setup.a
    yield out


def _check_after(setup: Setup, out: Path, proc: subprocess.Popen[bytes]) -> str:
    _stdout, stderr = proc.communicate(timeout=60)
    state = snapshot(out) if out.is_dir() else {}
    assert state in (setup.a, setup.b), sorted(state)
    assert leftovers(out.parent, out.name) == [], stderr.decode()
    text = stderr.decode()
    if proc.returncode == 130:
        # An interrupt held back during the folder swap lands after it: new outputs, exit 130.
        assert text.splitlines() == [f"reconciler: {INTERRUPTED}"]
    return "A" if state == setup.a else "B"


@pytest.mark.parametrize("delay", [0.6, 0.8])
def test_sigint_at_a_fixed_delay(setup: Setup, delay: float) -> None:
    with previous_outputs(setup, f"int_{delay}") as out:
        proc = _start(setup, out)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _check_after(setup, out, proc)


def test_sigint_during_startup_is_one_line(setup: Setup) -> None:
    with previous_outputs(setup, "startup") as out:
        proc = _start(setup, out)
        _wait_for_library(proc, "_multiarray_umath")  # numpy loading: pandas is being imported
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert snapshot(out) == setup.a
        assert b"Traceback" not in stderr
        assert proc.returncode == 130


@pytest.mark.parametrize("after", [0.0, 0.05, 0.2])
def test_sigint_while_writing(setup: Setup, after: float) -> None:
    with previous_outputs(setup, f"write_{after}") as out:
        proc = _start(setup, out)
        staging = _wait_for_staging(out.parent, out.name, proc)
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        _check_after(setup, out, proc)
        assert staging or proc.returncode is not None


def test_uninterrupted_run_replaces_the_outputs(setup: Setup) -> None:
    with previous_outputs(setup, "complete") as out:
        proc = _start(setup, out)
        assert _check_after(setup, out, proc) == "B"
        assert proc.returncode == 1


# --------------------------------------------------------------------------- the swap itself


def _outputs(folder: Path, text: str) -> None:
    folder.mkdir()
    (folder / "reconciled.csv").write_text(text, encoding="utf-8")
    (folder / writers.MARKER).write_text("made by reconciler; safe to delete\n", encoding="utf-8")


def _interrupt_on(monkeypatch: pytest.MonkeyPatch, name: str, when: str) -> None:
    """Raise KeyboardInterrupt from ``writers.<name>`` the first time its first argument starts
    with ``when`` (one Ctrl-C arrives once)."""
    target = os if name == "replace" else shutil
    real = getattr(target, name)
    fired: list[bool] = []

    def fake(src: object, *args: object, **kwargs: object) -> object:
        if Path(str(src)).name.startswith(when) and not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return real(src, *args, **kwargs)

    monkeypatch.setattr(target, name, fake)


def test_ctrl_c_between_the_two_renames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "OUT"
    _outputs(out, "previous\n")
    _interrupt_on(monkeypatch, "replace", ".OUT.")  # the staging folder is .OUT.xxxx.tmp
    with pytest.raises(KeyboardInterrupt), writers.staged_output(out) as stage:
        (stage / "reconciled.csv").write_text("new\n", encoding="utf-8")
    monkeypatch.undo()
    assert (out / "reconciled.csv").read_text(encoding="utf-8") in ("previous\n", "new\n")
    assert leftovers(tmp_path, "OUT") == []


def test_ctrl_c_while_the_old_outputs_are_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "OUT"
    _outputs(out, "previous\n")
    _interrupt_on(monkeypatch, "rmtree", ".OUT.old-")
    try:
        with writers.staged_output(out) as stage:
            (stage / "reconciled.csv").write_text("new\n", encoding="utf-8")
    except KeyboardInterrupt:
        interrupted = True
    else:
        interrupted = False
    monkeypatch.undo()
    assert (out / "reconciled.csv").read_text(encoding="utf-8") == "new\n"
    assert leftovers(tmp_path, "OUT") == []
    assert not interrupted  # the outputs were changed: the interrupt must not claim otherwise


def test_ctrl_c_while_staging_keeps_the_previous_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "OUT"
    _outputs(out, "previous\n")
    with pytest.raises(KeyboardInterrupt), writers.staged_output(out) as stage:
        (stage / "reconciled.csv").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert (out / "reconciled.csv").read_text(encoding="utf-8") == "previous\n"
    assert leftovers(tmp_path, "OUT") == []


def test_an_interrupt_a_library_swallowed_still_keeps_the_previous_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # C code (numpy's import) can clear the KeyboardInterrupt a signal raised inside it: the
    # run goes on, but must not replace the outputs the user asked it to leave alone.
    monkeypatch.setattr(interrupts, "_noted", [])
    previous = {name: signal.getsignal(getattr(signal, name)) for name in interrupts.SIGNALS}
    interrupts.install()
    try:
        with contextlib.suppress(KeyboardInterrupt):  # what such a library does
            signal.raise_signal(signal.SIGINT)
        out = tmp_path / "OUT"
        _outputs(out, "previous\n")
        with pytest.raises(KeyboardInterrupt), writers.staged_output(out) as stage:
            (stage / "reconciled.csv").write_text("new\n", encoding="utf-8")
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
    assert (out / "reconciled.csv").read_text(encoding="utf-8") == "previous\n"
    assert leftovers(tmp_path, "OUT") == []


def test_sigterm_while_writing_leaves_no_staging_folder(setup: Setup) -> None:
    with previous_outputs(setup, "term") as out:
        proc = _start(setup, out)
        assert _wait_for_staging(out.parent, out.name, proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert snapshot(out) in (setup.a, setup.b)  # the previous outputs are still there
        assert leftovers(out.parent, out.name) == []


def test_sigterm_while_reading_changes_nothing(setup: Setup) -> None:
    with previous_outputs(setup, "term_early") as out:
        proc = _start(setup, out)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        if not leftovers(out.parent, out.name):  # killed before the staging folder existed
            assert snapshot(out) == setup.a


def test_sighup_while_writing_is_handled_like_sigterm(setup: Setup) -> None:
    with previous_outputs(setup, "hup") as out:
        proc = _start(setup, out)
        assert _wait_for_staging(out.parent, out.name, proc)
        proc.send_signal(signal.SIGHUP)
        _, stderr = proc.communicate(timeout=60)
        assert snapshot(out) in (setup.a, setup.b)
        assert leftovers(out.parent, out.name) == []
        if proc.returncode == 130:
            assert stderr.decode().splitlines() == [f"reconciler: {INTERRUPTED}"]
        else:
            assert proc.returncode == 1  # the signal landed after the swap: the run finished


# Start-up is where threads import pyarrow and numpy: a signal there once crashed the
# process, hung it or made it exit without a word. Every signal, at every moment of the first
# half second, must give exit 130 and one line, or (the run already complete) the new outputs.
SIGNAL_LOOP = [
    (sig, delay)
    for sig in ("SIGINT", "SIGTERM", "SIGHUP")
    for delay in (0.08, 0.12, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
]


@pytest.mark.parametrize(("name", "delay"), SIGNAL_LOOP)
def test_every_signal_early_in_a_run_is_one_line_and_exit_130(
    setup: Setup, name: str, delay: float
) -> None:
    with previous_outputs(setup, f"loop_{name}_{delay}") as out:
        started = time.monotonic()
        proc = _start(setup, out)
        # Before the interpreter runs the tool's first line, no program can catch a signal: the
        # loop starts once the tool holds SIGHUP and SIGTERM (at once on a quiet machine).
        _wait_for_handlers(proc)
        time.sleep(max(0.0, delay - (time.monotonic() - started)))
        proc.send_signal(getattr(signal, name))
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{name} at {delay} s: the process hung")
        assert proc.returncode in (130, 1), (proc.returncode, stderr.decode())  # -11: a crash
        assert leftovers(out.parent, out.name) == []
        if proc.returncode == 130:  # never silent
            assert stderr.decode().splitlines() == [f"reconciler: {INTERRUPTED}"]
            assert snapshot(out) in (setup.a, setup.b)
        else:  # a fast machine finished first: the signal met the outputs already complete
            assert snapshot(out) == setup.b, stderr.decode()


def test_an_interrupt_python_could_only_print_prints_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A KeyboardInterrupt raised in a weakref callback (the import system's module locks) is
    # "ignored" by Python with a traceback on stderr; noted, it is raised again later.
    import weakref

    monkeypatch.setattr(interrupts, "_noted", [])
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    previous = {name: signal.getsignal(getattr(signal, name)) for name in interrupts.SIGNALS}
    interrupts.install()
    try:

        class Thing:
            pass

        def callback(_ref: object) -> None:
            signal.raise_signal(signal.SIGINT)

        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing  # the callback runs; the KeyboardInterrupt cannot propagate from it
        assert ref() is None
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
    assert "Exception ignored" not in capsys.readouterr().err


def test_an_interrupt_disguised_as_another_exception_is_still_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python wraps a KeyboardInterrupt raised in __set_name__ (a class being created while a
    # module is imported) in a RuntimeError: once an interrupt is noted, any failure is it.
    import typer

    from reconciler.console import guarded

    monkeypatch.setattr(interrupts, "_noted", [signal.SIGTERM])

    @guarded
    def command() -> None:
        raise RuntimeError("Error calling __set_name__ on 'cached_property' instance")

    with pytest.raises(typer.Exit) as done:
        command()
    assert done.value.exit_code == 130
    assert capsys.readouterr().err.splitlines() == [f"reconciler: {INTERRUPTED}"]


@pytest.mark.parametrize("raised", [KeyboardInterrupt, RuntimeError])
def test_an_interrupt_caught_in_a_command_is_said_once_by_the_whole_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raised: type
) -> None:
    # The command says the line and exits 130; the group around it says the line for an exit
    # 130 nothing said (typer reading the options). An interrupt disguised as another
    # exception was said by both: the line came twice.
    import typer

    from reconciler import console
    from reconciler.console import OneLineUsageErrors, guarded

    monkeypatch.setattr(interrupts, "_noted", [signal.SIGINT])
    monkeypatch.setattr(console, "_said_interrupted", False)
    app = typer.Typer(cls=OneLineUsageErrors, add_completion=False)

    @app.command()
    @guarded
    def run() -> None:
        raise raised("interrupted while a class was made")

    @app.command()
    def other() -> None:
        pass

    with pytest.raises(SystemExit) as done:
        app(["run"])
    assert done.value.code == 130
    assert capsys.readouterr().err.splitlines() == [f"reconciler: {INTERRUPTED}"]
