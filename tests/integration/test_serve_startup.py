"""`chatops serve` start-up failures: one clear line on stderr and a non-zero exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.app import create_app
from chatops.serve import run_server
from chatops.settings import Settings
from storage import StoreError
from storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m chatops serve` with only what the test sets (no secrets: console sink)."""
    clean = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "chatops", "serve", "--host", "127.0.0.1", *args],
        env=clean | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def test_port_in_use_is_one_line(tmp_path: Path, taken_port: int) -> None:
    result = serve(tmp_path, "--port", str(taken_port))
    assert result.returncode == 1
    assert result.stderr == f"port {taken_port} is in use; another chatops? use --port\n"
    assert not (tmp_path / "chatops.db").exists(), "nothing is opened before the port is checked"


def test_port_taken_after_the_check_is_one_line_too(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(chatops_store_url=f"sqlite:///{tmp_path / 'chatops.db'}")
    assert run_server(create_app(settings), host="127.0.0.1", port=taken_port) == 1
    err = capsys.readouterr().err
    assert err.endswith(f"port {taken_port} is in use; another chatops? use --port\n")
    assert "Traceback" not in err


def test_a_missing_store_directory_outside_the_working_directory(tmp_path: Path) -> None:
    missing = tmp_path / "volume" / "not-mounted"
    work = tmp_path / "work"
    work.mkdir()
    result = serve(work, "--port", "0", CHATOPS_STORE_URL=f"sqlite:///{missing}/chatops.db")
    assert result.returncode == 1
    assert result.stderr == (
        f"CHATOPS_STORE_URL: directory {missing} does not exist (create it first)\n"
    )
    assert not missing.exists(), "not created silently"


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("a-file/chatops.db", "CHATOPS_STORE_URL: {tmp}/a-file is not a directory\n"),
        ("a-dir", "CHATOPS_STORE_URL: cannot write {tmp}/a-dir (Is a directory)\n"),
    ],
)
def test_a_store_path_that_cannot_be_written(tmp_path: Path, store: str, message: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "a-dir").mkdir()
    result = serve(tmp_path, "--port", "0", CHATOPS_STORE_URL=f"sqlite:///{tmp_path / store}")
    assert result.returncode == 1
    assert result.stderr == message.format(tmp=tmp_path)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a /proc file system")
def test_a_store_directory_where_no_file_can_be_made(tmp_path: Path) -> None:
    """/proc refuses new files even to root (a permission test would pass as root)."""
    result = serve(tmp_path, "--port", "0", CHATOPS_STORE_URL="sqlite:////proc/chatops.db")
    assert result.returncode == 1
    assert result.stderr.startswith("CHATOPS_STORE_URL: cannot create files in /proc (")
    assert result.stderr.count("\n") == 1


async def test_the_store_creates_a_missing_directory_only_inside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    store = await SqliteStore.open("sqlite:///./data/state/chatops.db")
    await store.ping()
    await store.close()
    assert (work / "data" / "state" / "chatops.db").is_file()
    outside = tmp_path / "elsewhere" / "chatops.db"
    with pytest.raises(StoreError, match="does not exist"):
        await SqliteStore.open(f"sqlite:///{outside}")
    assert not outside.parent.exists()


def test_a_store_directory_that_cannot_be_created_inside_the_working_directory(
    tmp_path: Path,
) -> None:
    """Passes the pre-check (inside the cwd, created on open); opening fails: still one line."""
    (tmp_path / "a-file").write_text("not a directory")
    result = serve(tmp_path, "--port", "0", CHATOPS_STORE_URL="sqlite:///./a-file/sub/x.db")
    assert result.returncode == 1
    assert result.stderr.startswith("CHATOPS_STORE_URL: cannot open the store (sqlite: cannot")
    assert result.stderr.count("\n") == 1
