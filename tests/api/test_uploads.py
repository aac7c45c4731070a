"""The upload store's directories: private, per process, and swept when their server died."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from modelport.api.uploads import UploadStore


def test_directories_are_private_and_stale_ones_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f"modelport-uploads-{dead.stdout.strip()}-abc"
    (stale / "0").parent.mkdir()
    (stale / "0").write_bytes(b"left by a killed server")
    alive = tmp_path / f"modelport-uploads-{os.getppid()}-xyz"
    alive.mkdir()
    unrelated = tmp_path / "something-else"
    unrelated.mkdir()

    store = UploadStore(memory_dir=str(tmp_path), memory_limit=1000)
    with store.area() as area:
        area.size_hint = 10
        path, handle = area.new_file()
        handle.close()
        mine = Path(path).parent
        assert mine.name.startswith(f"modelport-uploads-{os.getpid()}-")
        assert stat.S_IMODE(mine.stat().st_mode) == 0o700
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert not Path(path).exists()
    assert not stale.exists(), "the dead server's directory is gone"
    assert alive.exists(), "a running server's directory is kept"
    assert unrelated.exists()
    store.close()
    assert not mine.exists()
