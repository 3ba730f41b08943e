"""The portal in a real headless Chromium (Debian's chromium and chromium-driver, through Selenium)
against the running service and the lab: an admin records Alice with "+", a call shows in Reports > Calls
and plays (206 with Content-Range, seeking moves the player), downloads byte for byte, "x" stops the
recording of the next call, another organisation's admin gets 404, and a plain user sees their own
calls only."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, CAROL_DESK, OUTSIDE_NUMBER, TRUNK
from tests.integration.calls import Records
from tests.integration.conftest import Login, Portal, SetModes
from tests.integration.phones import talk

pytestmark = pytest.mark.anyio
T = TypeVar("T")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    # The network log tells what the player's requests were answered with.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait(condition: Callable[[], T | None], within: float = 15, what: str = "condition") -> T:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def log_in(driver: webdriver.Chrome, portal: Portal, login: Login) -> None:
    driver.delete_all_cookies()
    driver.get(f"{portal.url}/login")
    driver.find_element(By.ID, "email").send_keys(login.email)
    driver.find_element(By.ID, "password").send_keys(login.password)
    driver.find_element(By.ID, "log-in").click()
    wait(lambda: driver.find_elements(By.ID, "logout"), what="the logged-in page")


def call_row(driver: webdriver.Chrome, portal: Portal, call_id: int) -> Any:
    driver.get(f"{portal.url}/reports/calls")
    rows = driver.find_elements(By.CSS_SELECTOR, f"tr[data-call-id='{call_id}']")
    assert rows, f"call {call_id} is not in Reports > Calls"
    return rows[0]


def media_responses(driver: webdriver.Chrome, url_part: str) -> list[dict[str, Any]]:
    found = []
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.responseReceived" and url_part in message["params"]["response"]["url"]:
            found.append(message["params"]["response"])
    return found


async def test_the_portal_end_to_end(browser: webdriver.Chrome, portal: Portal, records: Records, set_modes: SetModes,
                                     tmp_path: Path) -> None:
    """Admin: "+" records Alice always; her call to Bob is in Reports > Calls, plays (the media request
    answered 206 with a Content-Range; seeking moves the player's time) and downloads equal to the archive;
    with Internal unticked her call to Bob is not recorded and her call out is; "x" removes her, and her
    next call (to Carol) has no recording. The other organisation's admin gets
    404 for the call's recording (portal and API); Bob's account sees his call, not Alice's call to Carol."""
    await set_modes()
    driver = browser
    await anyio.to_thread.run_sync(log_in, driver, portal, portal.admin)

    # Settings > Call recording: "+" Alice, always.
    def add_alice() -> None:
        driver.find_element(By.ID, "nav-recording").click()
        wait(lambda: driver.find_elements(By.ID, "add-extension"), what="Settings > Call recording")
        Select(driver.find_element(By.ID, "add-extension")).select_by_value("201")
        Select(driver.find_element(By.ID, "add-mode")).select_by_value("always")
        driver.find_element(By.ID, "add").click()
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#recorded-users tr[data-extension='201']"),
             what="Alice among the recorded users")

    await anyio.to_thread.run_sync(add_alice)
    before = await records.snapshot()
    await talk(tmp_path / "recorded", ALICE_DESK, "202", BOB_DESK)
    recorded = await records.one_call(before, caller="201", callee="202", disposition="answered")
    await records.new_recording(before, linked_to=recorded)
    (stored,) = await records.stored_since(before)
    archived = (records.archive_root / stored["path"]).read_bytes()

    # Reports > Calls: play, seek.
    def play_and_seek() -> None:
        row = call_row(driver, portal, recorded["id"])
        row.find_element(By.CSS_SELECTOR, "button.play").click()
        wait(lambda: driver.execute_script("const p = document.getElementById('player');"
                                           " return !p.paused && p.currentTime > 0.3;"), what="the player playing")
        responses = media_responses(driver, f"/reports/calls/{recorded['id']}/recording")
        assert any(r["status"] == 206 and any(k.lower() == "content-range" for k in r["headers"])
                   for r in responses), responses
        driver.execute_script("const p = document.getElementById('player'); p.pause(); p.currentTime = 5;")
        wait(lambda: abs(driver.execute_script("return document.getElementById('player').currentTime;") - 5) < 0.5
             and driver.execute_script("return !document.getElementById('player').seeking;"),
             what="the player at 5 s")

    await anyio.to_thread.run_sync(play_and_seek)

    # Download: the bytes of the archived file.
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    def download() -> Path:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        call_row(driver, portal, recorded["id"]).find_element(By.CSS_SELECTOR, "a.download").click()
        return wait(lambda: [p for p in downloads.iterdir() if not p.name.endswith(".crdownload")],
                    what="the download")[0]

    downloaded = await anyio.to_thread.run_sync(download)
    assert downloaded.read_bytes() == archived
    assert downloaded.name.endswith("_201_202.mp3"), downloaded.name

    # Which calls: Internal unticked, Alice's call to a colleague is not recorded, her call out is.
    def alice_external_only() -> None:
        driver.get(f"{portal.url}/settings/recording")
        row = "#recorded-users tr[data-extension='201']"
        driver.find_element(By.CSS_SELECTOR, f"{row} input[value='internal']").click()
        driver.find_element(By.CSS_SELECTOR, f"{row} button.save-calls").click()
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, f"{row} input[value='internal']:not(:checked)"),
             what="Alice's internal calls switched off")

    await anyio.to_thread.run_sync(alice_external_only)
    async with portal.api(portal.admin) as api:
        (alice,) = [u for u in (await api.get("/api/v1/recording/users")).json() if u["extension"] == "201"]
    assert alice["recorded_calls"] == {"incoming": True, "outgoing": True, "internal": False, "external": True}
    before = await records.snapshot()
    await talk(tmp_path / "internal", ALICE_DESK, "202", BOB_DESK, call_ms=3000)
    await records.one_call(before, caller="201", callee="202", disposition="answered")
    await records.assert_no_recording(before)
    before = await records.snapshot()
    await talk(tmp_path / "external", ALICE_DESK, OUTSIDE_NUMBER, TRUNK, call_ms=3000)
    outside = await records.one_call(before, caller="201", disposition="answered")
    await records.new_recording(before, linked_to=outside)

    # "x": Alice no longer recorded; her next call has no recording.
    def remove_alice() -> None:
        driver.get(f"{portal.url}/settings/recording")
        driver.find_element(By.CSS_SELECTOR, "#recorded-users tr[data-extension='201'] button.remove").click()
        wait(lambda: not driver.find_elements(By.CSS_SELECTOR, "#recorded-users tr[data-extension='201']"),
             what="Alice gone from the recorded users")

    await anyio.to_thread.run_sync(remove_alice)
    before = await records.snapshot()
    await talk(tmp_path / "unrecorded", ALICE_DESK, "203", CAROL_DESK)
    unrecorded = await records.one_call(before, caller="201", callee="203", disposition="answered")
    await records.assert_no_recording(before)
    row = await anyio.to_thread.run_sync(call_row, driver, portal, unrecorded["id"])
    assert not row.find_elements(By.CSS_SELECTOR, "button.play")

    # Another organisation's admin: 404 in the portal and the API.
    def other_admin_sees_nothing() -> None:
        log_in(driver, portal, portal.other_admin)
        driver.get(f"{portal.url}/reports/calls/{recorded['id']}/recording")
        assert "404" in driver.title, driver.title
        assert not driver.find_elements(By.CSS_SELECTOR, f"tr[data-call-id='{recorded['id']}']")

    await anyio.to_thread.run_sync(other_admin_sees_nothing)
    async with portal.api(portal.other_admin) as api:
        for path in (f"/api/v1/calls/{recorded['id']}", f"/api/v1/calls/{recorded['id']}/recording"):
            assert (await api.get(path)).status_code == 404
    async with portal.session(portal.other_admin) as client:
        # The portal's own answer to the other admin's session, by status.
        assert (await client.get(f"/reports/calls/{recorded['id']}/recording")).status_code == 404

    # Bob: his call, not Alice's call to Carol.
    def bob_sees_his_own() -> None:
        log_in(driver, portal, portal.bob)
        driver.get(f"{portal.url}/reports/calls")
        rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-call-id]")
        ids = {int(r.get_attribute("data-call-id") or 0) for r in rows}
        assert recorded["id"] in ids and unrecorded["id"] not in ids
        assert not driver.find_elements(By.ID, "nav-recording")

    await anyio.to_thread.run_sync(bob_sees_his_own)
