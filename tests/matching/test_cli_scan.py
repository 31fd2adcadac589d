"""`takedown scan`: planted benign copies are found in a directory tree; bad files don't stop it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from takedown.cli.main import main
from takedown.db.session import Database

from .support import BRIDGE, PDQ_DATA, encode

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, committed: Database, tmp_path: Path) -> Run:
    def invoke(*args: str) -> Result:
        env = {"TAKEDOWN_DATABASE_URL": database_url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def known(run: Run) -> None:
    assert run("banks", "create", "known").exit_code == 0
    assert run("banks", "add", "known", "--file", str(BRIDGE)).exit_code == 0


def innocent_tree(root: Path) -> Path:
    """Unrelated photos, a text file, an empty file and a corrupt image."""
    (root / "photos" / "2026").mkdir(parents=True)
    for name in ("q0122.jpg", "q1050.jpg"):
        shutil.copy(PDQ_DATA / "labelme-subset" / name, root / "photos" / "2026" / name)
    (root / "readme.txt").write_text("not a picture\n")
    (root / "empty.bin").write_bytes(b"")
    (root / "photos" / "broken.jpg").write_bytes(BRIDGE.read_bytes()[:2000])
    return root


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, set[Path]]:
    """A tree with two planted copies of the known photo: identical, and rotated + resized."""
    root = innocent_tree(tmp_path / "storage")
    copy = root / "photos" / "2026" / "IMG_0001.JPG"
    shutil.copy(BRIDGE, copy)
    rotated = root / "uploads" / "deep" / "x.png"
    rotated.parent.mkdir(parents=True)
    image = Image.open(BRIDGE).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    rotated.write_bytes(encode(image.resize((502, 800)), "PNG"))
    return root, {copy, rotated}


def test_scan_finds_planted_files(run: Run, known: None, tree: tuple[Path, set[Path]]) -> None:
    root, planted = tree
    result = run("scan", str(root), "--bank", "known")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    found = {Path(line.split(": bank ")[0].removeprefix("MATCH ")) for line in lines}
    assert found == planted
    assert "rotate90" in result.stdout
    # The corrupt image is named, and the scan went on past it.
    assert f"error: {root / 'photos' / 'broken.jpg'}: invalid image" in result.stderr
    assert "readme.txt" not in result.stderr
    assert result.stderr.endswith(
        "scanned 7 files: 2 matched, 1 error, 1 other file (not images: exact hashes only);"
        " skipped 1 (1 empty, 0 too large, 0 unreadable)\n"
    )


def test_scan_json_lines(run: Run, known: None, tree: tuple[Path, set[Path]]) -> None:
    root, planted = tree
    result = run("scan", str(root), "--json")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {Path(r["file"]) for r in rows} == planted
    # The identical copy matches by every signal, the rotated one by PDQ only.
    assert sorted(r["signal_type"] for r in rows) == ["md5", "pdq", "pdq", "sha1", "sha256"]
    assert {r["bank"] for r in rows} == {"known"}


def test_scan_of_a_clean_tree_exits_0(run: Run, known: None, tmp_path: Path) -> None:
    root = innocent_tree(tmp_path / "clean")
    result = run("scan", str(root), "--bank", "known")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "broken.jpg" in result.stderr


def test_allow_listed_copies_are_not_reported(
    run: Run, known: None, tree: tuple[Path, set[Path]]
) -> None:
    run("banks", "create", "benign", "--role", "allow_list")
    run("banks", "add", "benign", "--file", str(BRIDGE))
    result = run("scan", str(tree[0]))
    assert result.exit_code == 0
    assert result.stdout == ""


def test_unreadable_files_are_named(
    run: Run, known: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = innocent_tree(tmp_path / "locked")
    secret = root / "secret.jpg"
    shutil.copy(BRIDGE, secret)
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        # chmod 0 does not stop root, who may run these tests: refuse the read instead.
        if path == secret:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result = run("scan", str(root))
    assert f"error: {secret}: cannot read: Permission denied" in result.stderr
    assert result.exit_code == 0


def test_usage_errors_exit_2(run: Run, known: None, tmp_path: Path) -> None:
    assert run("scan", str(tmp_path), "--bank", "missing").exit_code == 2
    assert run("scan", str(tmp_path / "nowhere")).exit_code == 2


def test_an_unreachable_database_is_exit_2(tmp_path: Path) -> None:
    url = "postgresql+psycopg://takedown@127.0.0.1:9/takedown?connect_timeout=5"
    env = {"TAKEDOWN_DATABASE_URL": url, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["scan", str(tmp_path)], env=env)
    assert result.exit_code == 2
    assert "cannot connect to the database" in result.stderr


def test_the_summary_counts_skipped_files(
    database_url: str, committed: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "empty-1").write_bytes(b"")
    (root / "empty-2").write_bytes(b"")
    (root / "large.bin").write_bytes(b"x" * 2048)
    (root / "small.txt").write_bytes(b"a note\n")
    locked = root / "locked.bin"
    locked.write_bytes(b"secret")
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path == locked:  # chmod does not stop root: refuse the read instead
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    env = {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path),
        "TAKEDOWN_MAX_IMAGE_BYTES": "1024",
    }
    result = CliRunner().invoke(main, ["scan", str(root)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr.endswith(
        "scanned 5 files: 0 matched, 2 errors, 1 other file (not images: exact hashes only);"
        " skipped 4 (2 empty, 1 too large, 1 unreadable)\n"
    )
