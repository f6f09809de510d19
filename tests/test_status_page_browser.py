"""The status page in a real browser: headless Chromium shows the seed call's event from a running service."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_service import running, wait_until

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "seed" / "000_b4c0d37c8ab855e5.txt"
CHROMIUM = Path("/usr/bin/chromium")


def chromium(url: str, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`", pytrace=False)
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         *mode, url],
        capture_output=True, text=True, timeout=90, check=True,
    )


@pytest.mark.corpus
def test_status_page_renders_the_seed_event_in_chromium(tmp_path: Path) -> None:
    if not SEED.is_file():
        pytest.skip(f"the seed transcript is not at {SEED} (../shared is absent)")
    with running(tmp_path / "svc") as service:
        inbox = service.workdir / "inbox"
        inbox.mkdir(exist_ok=True)
        shutil.copy(SEED, inbox / SEED.name)
        wait_until(lambda: "Kingsoft Cloud" in service.stdout(), 60, "the seed's digest in the terminal")
        dom = chromium(service.url("/"), tmp_path / "profile", "--dump-dom").stdout
        shot = tmp_path / "status.png"
        chromium(service.url("/"), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
        assert service.stop() == 0
    assert "<h2>Recent events</h2>" in dom
    assert "Kingsoft Cloud" in dom
    assert "1,775.7" in dom  # total revenues, as the digest shows it
    assert dom.count('<article class="digest"') == 1
    assert "<script" not in dom  # nothing from the document became markup
    assert shot.is_file() and shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
