#!/usr/bin/env python3
"""The desktop end-to-end test: the real Berth window, driven like a person would.

Run by tests/desktop/run.sh inside Xvfb and a private D-Bus session (with an
unlocked gnome-keyring). It starts tauri-driver, which starts the app through
WebKitWebDriver; the app starts the real berthd sidecar. Steps:

1. launch: the window shows the sidebar (time to a usable window is measured);
2. status: the Status page says the registry is running, at its address;
3. idle: no animation runs at rest; CPU use of the app (and its WebKit
   processes) and of the sidecar is recorded while WebKit settles after the
   launch (5-20 s) and asserted low at rest (20-40 s after launch);
4. storage save: a new filesystem directory is saved from the Storage page; the
   toast says the registry restarted, config.yml names the directory, the
   registry answers on its port and reports the new backend;
5. quit: closing the window exits the app and stops the sidecar;
6. kill: the app started again and SIGKILLed (no chance to clean up) still
   leaves no sidecar behind (berthd serve --exit-with-parent).

Screenshots go to tests/desktop/artifacts/ (and the Status page to
docs/screenshots/desktop-status.png); measurements to artifacts/metrics.json.
Prints "desktop: N passed, N failed" last and exits non-zero on a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

APP = Path(os.environ["BERTH_APP_BIN"]).resolve()
BERTHD = Path(os.environ["BERTH_BERTHD_BIN"]).resolve()
ARTIFACTS = Path(os.environ["BERTH_DESKTOP_ARTIFACTS"])
DOCS_SCREENSHOTS = Path(os.environ["BERTH_DOCS_SCREENSHOTS"])
NATIVE_DRIVER = "/usr/bin/WebKitWebDriver"

LAUNCH_TIMEOUT = 60  # s, first launch includes WebKit's own start-up
SIDECAR_TIMEOUT = 60  # s, until the Status page says "running"
SAVE_TIMEOUT = 90  # s, probe + restart + health check
QUIT_TIMEOUT = 30  # s, until the app and the sidecar are gone
SETTLE_AFTER = 5.0  # s after launch before measuring CPU while WebKit settles
SETTLE_WINDOW = 15.0  # s of that measurement (recorded, not asserted)
IDLE_WINDOW = 20.0  # s of idle CPU measurement, right after the settling one
# % of one core, the app (with WebKit) and the sidecar together. Measured at
# rest: 0.2-0.5%; WebKit's start-up tail (JIT, caches) costs ~5% in the first
# 20 s, and an animation left running ~75%.
IDLE_CPU_LIMIT = 10.0


class StepFailed(Exception):
    """A step's assertion failed; the message says what the user would notice."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise StepFailed(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# ---- processes, from /proc -------------------------------------------------


def proc_exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return ""


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 = state)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid: int) -> list[int]:
    out = []
    for child in all_pids():
        fields = proc_stat(child)
        if fields and int(fields[1]) == pid:
            out.append(child)
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def pids_of(exe: Path) -> list[int]:
    return [pid for pid in all_pids() if proc_exe(pid) == str(exe) and alive(pid)]


def mentions(pid: int, text: str) -> bool:
    """Whether the process's command line or environment mentions `text`."""
    for part in ("cmdline", "environ"):
        try:
            if text.encode() in Path(f"/proc/{pid}/{part}").read_bytes():
                return True
        except OSError:
            pass
    return False


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        fields = proc_stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


# ---- the window ------------------------------------------------------------


class Window:
    """The app's window through WebDriver, with helpers that wait like a person."""

    def __init__(self, driver: webdriver.Remote):
        self.driver = driver

    def find(self, css: str, timeout: float, visible: bool = True) -> WebElement:
        def present(driver: webdriver.Remote) -> WebElement | bool:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if not visible or element.is_displayed():
                    return element
            return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(present)
        except WebDriverException as err:
            raise StepFailed(f"no {'visible ' if visible else ''}{css!r} after {timeout}s") from err

    def wait(self, what: str, timeout: float, check: Callable[[], object]) -> object:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = check()
                if last:
                    return last
            except WebDriverException:
                pass
            time.sleep(0.25)
        raise StepFailed(f"{what} (not seen after {timeout}s; body: {self.body_text()[:600]!r})")

    def text(self, css: str) -> str:
        """The text of the first element matching `css` ("" when there is none)."""
        for element in self.driver.find_elements(By.CSS_SELECTOR, css):
            return (element.get_attribute("textContent") or "").strip()
        return ""

    def body_text(self) -> str:
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return "<window gone>"

    def admin(self, op: str, args: dict | None = None) -> dict:
        """Calls the admin API through the same Tauri command the UI uses."""
        result = self.driver.execute_async_script(
            """
            const [op, args, done] = arguments;
            window.__TAURI_INTERNALS__.invoke("admin", { op, args })
              .then((value) => done({ ok: value }), (error) => done({ err: error }));
            """,
            op,
            args or {},
        )
        if "err" in result:
            raise StepFailed(f"admin {op} failed: {json.dumps(result['err'])}")
        return result["ok"]

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        try:
            # Let WebKit render what the DOM holds now: with nothing animating,
            # a snapshot may otherwise show the last frame it happened to paint.
            self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
            )
            self.driver.get_screenshot_as_file(str(path))
        except WebDriverException:
            subprocess.run(["import", "-window", "root", str(path)], check=False)
        return path


# ---- the run ---------------------------------------------------------------


class Run:
    """One launch of the app with its own data directory and registry port."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.data_dir = scratch / "app"
        self.downloads = scratch / "downloads"
        self.first_store = scratch / "store-first"
        self.new_store = scratch / "store-saved"
        self.registry_port = free_port()
        self.driver_port = free_port()
        self.native_port = free_port()
        self.metrics: dict[str, object] = {}
        self.results: list[tuple[str, str | None]] = []
        self.tauri_driver: subprocess.Popen | None = None
        self.window: Window | None = None
        self.app_pid: int | None = None
        self.sidecar_pid: int | None = None
        self.killed_app: subprocess.Popen | None = None

    # The first launch finds this config (as a user's earlier session would have
    # left it), so the registry uses a free port and a scratch directory.
    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True)
        (self.data_dir / "config.yml").write_text(
            "version: 0.1\n"
            "log:\n"
            "  level: info\n"
            "storage:\n"
            "  filesystem:\n"
            f"    rootdirectory: {self.first_store}\n"
            "  delete:\n"
            "    enabled: true\n"
            "http:\n"
            f"  addr: 127.0.0.1:{self.registry_port}\n"
        )

    def step(self, name: str, body: Callable[[], None]) -> bool:
        started = time.monotonic()
        try:
            body()
        except Exception as err:  # every failure is reported, with a screenshot
            message = f"{type(err).__name__}: {err}" if not isinstance(err, StepFailed) else str(err)
            self.results.append((name, message))
            print(f"desktop: FAIL {name}: {message}", flush=True)
            if self.window:
                self.window.screenshot(f"failed-{name}")
            return False
        self.results.append((name, None))
        print(f"desktop: ok   {name} ({time.monotonic() - started:.1f}s)", flush=True)
        return True

    def start_driver(self) -> None:
        log = open(ARTIFACTS / "tauri-driver.log", "w")
        env = dict(
            os.environ,
            BERTH_APP_DATA_DIR=str(self.data_dir),
            BERTH_DOWNLOAD_DIR=str(self.downloads),
            RUST_BACKTRACE="1",
        )
        tauri_driver = shutil.which("tauri-driver") or str(Path.home() / ".cargo/bin/tauri-driver")
        self.tauri_driver = subprocess.Popen(
            [
                tauri_driver,
                "--port",
                str(self.driver_port),
                "--native-port",
                str(self.native_port),
                "--native-driver",
                NATIVE_DRIVER,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.driver_port, 20)

    def launch(self) -> None:
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(APP)})
        started = time.monotonic()
        driver = webdriver.Remote(
            command_executor=f"http://127.0.0.1:{self.driver_port}", options=options
        )
        self.window = Window(driver)
        self.launched_at = started
        self.metrics["sessionReadySeconds"] = round(time.monotonic() - started, 2)
        self.window.find("nav.sidebar [data-testid=nav-status]", LAUNCH_TIMEOUT)
        self.metrics["launchToSidebarSeconds"] = round(time.monotonic() - started, 2)
        pids = pids_of(APP)
        mine = [pid for pid in pids if mentions(pid, str(self.data_dir))]
        if len(mine) != 1:
            raise StepFailed(f"expected one berth process for this run, found {mine} (all: {pids})")
        self.app_pid = mine[0]
        size = driver.get_window_size()
        self.metrics["windowSize"] = f"{size['width']}x{size['height']}"
        if not driver.title.endswith("Berth"):
            raise StepFailed(f"the page title is {driver.title!r}, expected it to end with 'Berth'")

    def status_running(self) -> None:
        window = self.require_window()
        address = f"127.0.0.1:{self.registry_port}"
        window.wait(
            "the Status page shows the registry running",
            SIDECAR_TIMEOUT,
            lambda: window.driver.find_elements(
                By.CSS_SELECTOR, "[data-testid=status-card] [data-testid=state-badge][data-state=running]"
            ),
        )
        self.metrics["launchToRunningSeconds"] = round(time.monotonic() - self.launched_at, 2)
        window.wait(
            f"the Status page shows the address {address}",
            10,
            lambda: window.text("[data-testid=status-address]") == address,
        )
        window.wait(
            "the state badge says Running",
            10,
            lambda: "running" in window.text("[data-testid=status-card] [data-testid=state-badge]").lower(),
        )
        sidecars = [
            pid for pid in children(self.app_pid or 0) if proc_exe(pid) == str(BERTHD) and alive(pid)
        ]
        status = window.admin("status")
        if len(sidecars) != 1 or status.get("pid") != sidecars[0]:
            raise StepFailed(f"berthd children of the app: {sidecars}; status pid {status.get('pid')}")
        self.sidecar_pid = sidecars[0]
        answer_v2(self.registry_port)
        time.sleep(0.5)  # let the uptime tick render before the picture
        shot = window.screenshot("status")
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOTS / "desktop-status.png")

    def idle_cpu(self) -> None:
        window = self.require_window()
        # Nothing moves on a window at rest: no infinite CSS animation (the
        # state dot pulses only while the registry starts, a spinner spins only
        # while something is being done). WebKit repaints for every running
        # animation, in software under Xvfb: that once cost ~70% of a core.
        running = window.driver.execute_script(
            "return document.getAnimations().filter((a) => a.playState === 'running')"
            ".map((a) => (a.animationName || a.constructor.name) + ' on '"
            " + (a.effect && a.effect.target ? a.effect.target.className : '?'));"
        )
        self.metrics["animationsAtRest"] = running
        self.metrics["prefersReducedMotion"] = window.driver.execute_script(
            "return matchMedia('(prefers-reduced-motion: reduce)').matches;"
        )
        rest = self.launched_at + SETTLE_AFTER - time.monotonic()
        if rest > 0:
            time.sleep(rest)
        app = [self.app_pid or 0] + descendants(self.app_pid or 0)
        app = [pid for pid in app if pid != self.sidecar_pid]
        self.metrics["settlingCpuPercent"] = cpu_percent(app + [self.sidecar_pid or 0], SETTLE_WINDOW)
        usage = cpu_percent(app + [self.sidecar_pid or 0], IDLE_WINDOW)
        self.metrics["idleCpuPercent"] = usage
        self.metrics["idleCpuWindowSeconds"] = IDLE_WINDOW
        self.metrics["appRssMiB"] = round(sum(rss_kib(pid) for pid in app) / 1024, 1)
        self.metrics["sidecarRssMiB"] = round(rss_kib(self.sidecar_pid or 0) / 1024, 1)
        if running:
            raise StepFailed(f"animations run on the window at rest: {running}")
        if usage["total"] > IDLE_CPU_LIMIT:
            raise StepFailed(
                f"the app at rest uses {usage['total']}% of a core (limit {IDLE_CPU_LIMIT}%): {usage}"
            )

    def storage_save(self) -> None:
        window = self.require_window()
        window.find("[data-testid=nav-storage]", 5).click()
        drivers = Select(window.find("[data-testid=driver-select]", 20))
        if drivers.first_selected_option.get_attribute("value") != "filesystem":
            drivers.select_by_value("filesystem")
        field = window.find("[data-testid=field-rootdirectory] input", 20)
        window.wait(
            "the Storage page shows the current directory",
            20,
            lambda: field.get_attribute("value") == str(self.first_store),
        )
        field.clear()
        field.send_keys(str(self.new_store))
        window.screenshot("storage-edited")
        restarts_before = window.admin("status").get("restarts", 0)
        window.find("[data-testid=storage-save]", 5).click()
        toast = window.wait(
            "a toast says the registry restarted",
            SAVE_TIMEOUT,
            lambda: next(
                (
                    t.text
                    for t in window.driver.find_elements(By.CSS_SELECTOR, "[data-testid=toast]")
                    if "restart" in t.text.lower()
                ),
                None,
            ),
        )
        self.metrics["saveToast"] = toast
        window.screenshot("storage-saved")
        config = (self.data_dir / "config.yml").read_text()
        if str(self.new_store) not in config:
            raise StepFailed(f"config.yml does not name {self.new_store}:\n{config}")
        if str(self.first_store) in config:
            raise StepFailed(f"config.yml still names the old directory {self.first_store}")
        status = window.admin("status")
        if status.get("state") != "running" or str(self.new_store) not in str(status.get("backend")):
            raise StepFailed(f"after the save the status is {json.dumps(status)}")
        if status.get("restarts", 0) <= restarts_before and status.get("pid") == self.sidecar_pid:
            raise StepFailed(f"the sidecar did not restart: {json.dumps(status)}")
        answer_v2(self.registry_port)
        if not self.new_store.is_dir():
            raise StepFailed(f"the registry did not create {self.new_store}")
        self.sidecar_pid = status.get("pid")
        window.find("[data-testid=nav-status]", 5).click()
        window.find("[data-testid=status-card] [data-testid=state-badge][data-state=running]", 20)
        window.screenshot("status-after-save")

    def config_download(self) -> None:
        # WebKitGTK drops <a download> clicks; the app saves the file itself.
        window = self.require_window()
        window.find("[data-testid=nav-config]", 5).click()
        window.find("[data-testid=config-download]", 20).click()
        saved = window.wait(
            "config.yml appears in the Downloads folder",
            20,
            lambda: next(iter(self.downloads.glob("*.yml")), None) if self.downloads.is_dir() else None,
        )
        text = saved.read_text()
        if str(self.new_store) not in text or "storage:" not in text:
            raise StepFailed(f"{saved} is not the current config.yml:\n{text}")
        leftovers = [p.name for p in self.downloads.iterdir() if p.name.startswith(".")]
        if leftovers:
            raise StepFailed(f"partial files left in the Downloads folder: {leftovers}")
        toast = window.wait(
            "a toast names where it was saved",
            10,
            lambda: next(
                (
                    t.text
                    for t in window.driver.find_elements(By.CSS_SELECTOR, "[data-testid=toast]")
                    if str(saved) in t.text
                ),
                None,
            ),
        )
        self.metrics["downloadToast"] = toast
        window.find("[data-testid=nav-status]", 5).click()

    def quit(self) -> None:
        window = self.require_window()
        app_pid = self.app_pid or 0
        sidecar_pid = self.sidecar_pid or 0
        started = time.monotonic()
        # Close the window the way its title bar's close button does (WebDriver's
        # own "close window" kills the app outright, which is no user's quit).
        # The close runs after this script has returned: the app exits as soon
        # as its last window closes, and a reply still owed to WebDriver then
        # never comes (WebKitWebDriver answers with an empty error).
        lost_reply: WebDriverException | None = None
        try:
            window.driver.execute_script(
                "setTimeout(() => window.__TAURI_INTERNALS__.invoke('plugin:window|close', { label: 'main' })"
                ".catch((e) => { document.title = 'close failed: ' + JSON.stringify(e); }), 100);"
            )
        except WebDriverException as err:
            # Only the processes below say whether the app quit.
            lost_reply = err
        gone = wait_until(lambda: not alive(app_pid), QUIT_TIMEOUT)
        self.metrics["quitSeconds"] = round(time.monotonic() - started, 2)
        if not gone:
            title = "" if lost_reply else f" (title: {window.driver.title!r})"
            raise StepFailed(
                f"the app (pid {app_pid}) still runs {QUIT_TIMEOUT}s after its window closed{title}"
                + (f"; closing it failed: {lost_reply!r}" if lost_reply else "")
            )
        if not wait_until(lambda: not alive(sidecar_pid), 5):
            raise StepFailed(f"the sidecar berthd (pid {sidecar_pid}) outlived the app")
        left = [pid for pid in pids_of(BERTHD) if mentions(pid, str(self.scratch))]
        if left:
            raise StepFailed(f"berthd processes of this run are still running: {left}")
        # The WebDriver session has no browser any more.
        try:
            window.driver.quit()
        except WebDriverException:
            pass
        self.window = None

    def kill_app(self) -> None:
        """SIGKILL of the app (no chance to stop anything) still ends the sidecar:
        berthd runs with --exit-with-parent and its stdin pipe closes with the app."""
        env = dict(os.environ, BERTH_APP_DATA_DIR=str(self.data_dir))
        with open(ARTIFACTS / "killed-app.log", "w") as log:
            app = subprocess.Popen([str(APP)], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.killed_app = app
        found: list[int] = []

        def sidecar_started() -> bool:
            found[:] = [pid for pid in children(app.pid) if proc_exe(pid) == str(BERTHD) and alive(pid)]
            return bool(found)

        if not wait_until(sidecar_started, SIDECAR_TIMEOUT):
            raise StepFailed(f"the app (pid {app.pid}) started no berthd within {SIDECAR_TIMEOUT}s")
        sidecar = self.sidecar_pid = found[0]
        if not wait_until(lambda: answers_v2(self.registry_port), SIDECAR_TIMEOUT):
            raise StepFailed(f"the registry never answered on 127.0.0.1:{self.registry_port}")
        helpers = [pid for pid in descendants(app.pid) if pid != sidecar]
        app.send_signal(signal.SIGKILL)
        app.wait()
        started = time.monotonic()
        gone = wait_until(lambda: not alive(sidecar), 10)
        self.metrics["sidecarExitAfterAppKillSeconds"] = round(time.monotonic() - started, 2)
        if not gone:
            raise StepFailed(f"the sidecar berthd (pid {sidecar}) still runs 10s after the app was SIGKILLed")
        if answers_v2(self.registry_port):
            raise StepFailed(f"something still answers on 127.0.0.1:{self.registry_port}")
        # WebKit's helper processes end with the app's side of their sockets.
        if not wait_until(lambda: not any(alive(pid) for pid in helpers), 10):
            raise StepFailed(f"helper processes of the killed app still run: {[p for p in helpers if alive(p)]}")

    def require_window(self) -> Window:
        if self.window is None:
            raise StepFailed("the window never opened")
        return self.window

    def cleanup(self) -> None:
        if self.window:
            try:
                self.window.driver.quit()
            except Exception:  # the app is usually gone already
                pass
        if self.killed_app and self.killed_app.poll() is None:
            self.killed_app.kill()
            self.killed_app.wait()
        leftovers = [self.app_pid, self.sidecar_pid] + [
            pid for pid in pids_of(BERTHD) if mentions(pid, str(self.scratch))
        ]
        for pid in dict.fromkeys(leftovers):
            if pid and alive(pid):
                print(f"desktop: killing leftover pid {pid}", flush=True)
                os.kill(pid, signal.SIGKILL)
        if self.tauri_driver:
            self.tauri_driver.terminate()
            try:
                self.tauri_driver.wait(10)
            except subprocess.TimeoutExpired:
                self.tauri_driver.kill()
                self.tauri_driver.wait()


def cpu_percent(pids: list[int], seconds: float) -> dict[str, float]:
    """CPU use over `seconds`, in percent of one core, by process name."""
    tick = os.sysconf("SC_CLK_TCK")
    before = {pid: cpu_ticks([pid]) for pid in pids}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    usage: dict[str, float] = {}
    for pid in pids:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        used = (cpu_ticks([pid]) - before[pid]) / tick / elapsed * 100
        usage[name] = round(usage.get(name, 0.0) + used, 1)
    usage["total"] = round(sum(usage.values()), 1)
    return usage


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# The app serves TLS by default, with its own CA; these checks ask only
# whether the registry answers.
LIVENESS_TLS = ssl._create_unverified_context()


def answers_v2(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/v2/", timeout=2, context=LIVENESS_TLS
        ) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def answer_v2(port: int) -> None:
    url = f"https://127.0.0.1:{port}/v2/"
    try:
        with urllib.request.urlopen(url, timeout=5, context=LIVENESS_TLS) as response:
            if response.status != 200:
                raise StepFailed(f"{url} answered {response.status}")
    except urllib.error.URLError as err:
        raise StepFailed(f"the registry does not answer at {url}: {err}") from err


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def main() -> int:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    scratch = Path(tempfile.mkdtemp(prefix="berth-desktop."))
    run = Run(scratch)
    try:
        run.write_config()
        run.start_driver()
        steps = [
            ("launch", run.launch),
            ("status-running", run.status_running),
            ("idle-cpu", run.idle_cpu),
            ("storage-save", run.storage_save),
            ("config-download", run.config_download),
            ("quit-stops-sidecar", run.quit),
            ("kill-stops-sidecar", run.kill_app),
        ]
        for name, body in steps:
            if not run.step(name, body):
                break
        for name, _ in steps[len(run.results) :]:
            run.results.append((name, "not run: an earlier step failed"))
    finally:
        run.cleanup()
        (ARTIFACTS / "metrics.json").write_text(json.dumps(run.metrics, indent=2) + "\n")
        shutil.rmtree(scratch, ignore_errors=True)
    print("desktop: metrics " + json.dumps(run.metrics), flush=True)
    failed = sum(1 for _, error in run.results if error)
    passed = len(run.results) - failed
    print(f"desktop: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
