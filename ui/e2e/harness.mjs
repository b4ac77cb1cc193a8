// The browser end-to-end tests' real peers: a private D-Bus session with an
// unlocked GNOME Keyring (the Secret Service berth-admin keeps secrets in),
// `berthd console` on a free 127.0.0.1 port with a temporary data directory
// (its Trust page acting on a temporary Debian-like root, so applying a plan
// writes files there and runs no commands), and Debian's Chromium driven by
// playwright-core. Everything is started here
// and stopped by PID at the end; nothing is faked.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, createWriteStream, copyFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
/** ui/ */
export const uiDir = resolve(here, "..");
/** The repository root. */
export const repoDir = resolve(uiDir, "..");
/** Every screenshot of a run (gitignored). */
export const artifactsDir = join(here, "artifacts");
/** One good screenshot per page, for the README. */
export const docsScreenshotsDir = join(repoDir, "docs", "screenshots");

const CI = process.env.CI === "true";

/**
 * A missing peer: under CI=true the run fails loudly; otherwise the test is
 * skipped with how to get the peer.
 * @param {import("node:test").TestContext | null} t
 * @param {string} what
 * @param {string} howTo
 * @returns {never | void}
 */
export function missing(t, what, howTo) {
  const message = `${what} is missing. ${howTo}`;
  if (CI) throw new Error(`CI=true and ${message}`);
  console.log(`SKIP: ${message}`);
  t?.skip(message);
}

/** The berthd binary: $BERTHD, else $CARGO_TARGET_DIR/debug/berthd, else target/debug/berthd. */
export function berthdPath() {
  if (process.env.BERTHD) return resolve(process.env.BERTHD);
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repoDir, "target");
  return join(target, "debug", "berthd");
}

/** Debian's Chromium, or $CHROMIUM. Never a downloaded browser. */
export function chromiumPath() {
  return process.env.CHROMIUM ? resolve(process.env.CHROMIUM) : "/usr/bin/chromium";
}

/**
 * What is missing to run the tests, with how to get it; empty when all is there.
 * @returns {{what: string, howTo: string}[]}
 */
export function missingPeers() {
  /** @type {{what: string, howTo: string}[]} */
  const out = [];
  const berthd = berthdPath();
  if (!existsSync(berthd)) {
    out.push({
      what: `berthd (${berthd})`,
      howTo: "Build it with `cargo build -p berthd` (CARGO_TARGET_DIR is honoured) or point BERTHD at a binary.",
    });
  } else if (spawnSync(berthd, ["console", "--help"], { stdio: "ignore" }).status !== 0) {
    out.push({
      what: `the \`console\` subcommand of ${berthd}`,
      howTo: "Rebuild berthd from a checkout that has `berthd console` (`cargo build -p berthd`).",
    });
  }
  if (!existsSync(chromiumPath())) {
    out.push({ what: `Chromium (${chromiumPath()})`, howTo: "Install it with `apt-get install chromium` (never `npx playwright install`)." });
  }
  if (!existsSync(join(uiDir, "dist", "index.html"))) {
    out.push({ what: "the built UI (ui/dist)", howTo: "Run `npm run build` in ui/ first." });
  }
  for (const tool of ["dbus-daemon", "gnome-keyring-daemon", "dbus-send"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status !== 0) {
      out.push({ what: tool, howTo: "Install it with `apt-get install dbus gnome-keyring`." });
    }
  }
  return out;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a truthy value or the time is up.
 * @template T
 * @param {string} what
 * @param {() => Promise<T> | T} check
 * @param {number} timeoutMs
 * @returns {Promise<T>}
 */
export async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await sleep(150);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/**
 * A child process we started, its output going to a log file.
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @param {{env: NodeJS.ProcessEnv, logDir: string, stdin?: string}} options
 */
function startProcess(name, command, args, { env, logDir, stdin }) {
  const log = createWriteStream(join(logDir, `${name}.log`));
  const child = spawn(command, args, { env, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  if (stdin !== undefined && child.stdin) {
    child.stdin.end(stdin);
  }
  /** @type {number | null} */
  let exitCode = null;
  let exited = false;
  child.on("exit", (code, signal) => {
    exited = true;
    exitCode = code ?? (signal ? 128 : 0);
    log.end(`\n[${name} exited: code ${code}, signal ${signal}]\n`);
  });
  return {
    name,
    child,
    logFile: join(logDir, `${name}.log`),
    get exited() {
      return exited;
    },
    get exitCode() {
      return exitCode;
    },
    /** Stops it by PID: SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 10000) {
      if (exited || child.pid === undefined) return;
      child.kill("SIGTERM");
      const deadline = Date.now() + graceMs;
      while (!exited && Date.now() < deadline) await sleep(50);
      if (!exited) {
        child.kill("SIGKILL");
        while (!exited) await sleep(50);
      }
    },
  };
}

/**
 * @param {string} address
 * @param {NodeJS.ProcessEnv} env
 */
function secretServiceUp(address, env) {
  const r = spawnSync(
    "dbus-send",
    [
      `--bus=${address}`,
      "--print-reply",
      "--dest=org.freedesktop.DBus",
      "/org/freedesktop/DBus",
      "org.freedesktop.DBus.NameHasOwner",
      "string:org.freedesktop.secrets",
    ],
    { env, encoding: "utf8" },
  );
  return r.status === 0 && /boolean true/.test(r.stdout);
}

/**
 * Starts the whole stack: D-Bus session + keyring, berthd console, Chromium.
 * @returns {Promise<Stack>}
 */
export async function startStack() {
  mkdirSync(artifactsDir, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), "berth-ui-e2e-"));
  const dirs = {
    root,
    home: join(root, "home"),
    data: join(root, "xdg-data"),
    config: join(root, "xdg-config"),
    cache: join(root, "xdg-cache"),
    runtime: join(root, "run"),
    appData: join(root, "app-data"),
    registry: join(root, "registry"),
    trustRoot: join(root, "trust-root"),
    logs: join(artifactsDir, "logs"),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  // The machine the Trust page manages: Debian with Docker and podman.
  for (const d of ["etc/docker", "etc/containers"]) mkdirSync(join(dirs.trustRoot, d), { recursive: true });
  writeFileSync(join(dirs.trustRoot, "etc/os-release"), 'ID=debian\nVERSION_ID="12"\n');

  const busAddress = `unix:path=${join(dirs.runtime, "bus")}`;
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    PATH: process.env.PATH,
    LANG: "C.UTF-8",
    HOME: dirs.home,
    XDG_DATA_HOME: dirs.data,
    XDG_CONFIG_HOME: dirs.config,
    XDG_CACHE_HOME: dirs.cache,
    XDG_RUNTIME_DIR: dirs.runtime,
    DBUS_SESSION_BUS_ADDRESS: busAddress,
    BERTH_DATA_DIR: dirs.registry,
    BERTH_APP_DATA_DIR: dirs.appData,
    BERTH_UI_DIR: join(uiDir, "dist"),
    BERTH_TRUST_ROOT: dirs.trustRoot,
    RUST_BACKTRACE: "1",
  };
  if (process.env.RUST_LOG) env.RUST_LOG = process.env.RUST_LOG;

  /** @type {ReturnType<typeof startProcess>[]} */
  const processes = [];
  /** @type {import("playwright-core").Browser | null} */
  let browser = null;

  const stop = async () => {
    if (browser) await browser.close().catch(() => {});
    // berthd first (it stops its sidecar), then the keyring, then the bus.
    for (const p of [...processes].reverse()) await p.stop();
    if (process.env.BERTH_E2E_KEEP !== "1") rmSync(root, { recursive: true, force: true });
  };

  try {
    const dbus = startProcess(
      "dbus-daemon",
      "dbus-daemon",
      ["--session", "--nofork", "--nopidfile", `--address=${busAddress}`],
      { env, logDir: dirs.logs },
    );
    processes.push(dbus);
    await waitFor("the private D-Bus session", () => existsSync(join(dirs.runtime, "bus")), 10000);

    const keyring = startProcess(
      "gnome-keyring",
      "gnome-keyring-daemon",
      ["--foreground", "--unlock", "--components=secrets"],
      { env, logDir: dirs.logs, stdin: "berth-e2e" },
    );
    processes.push(keyring);
    await waitFor("GNOME Keyring's Secret Service", () => secretServiceUp(busAddress, env), 15000);

    const port = await freePort();
    const berthd = startProcess(
      "berthd-console",
      berthdPath(),
      ["console", "--listen", `127.0.0.1:${port}`],
      { env, logDir: dirs.logs },
    );
    processes.push(berthd);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(
      `berthd console on ${baseUrl} (log: ${berthd.logFile})`,
      async () => {
        if (berthd.exited) throw new Error(`berthd console exited with code ${berthd.exitCode}; see ${berthd.logFile}`);
        const page = await fetch(`${baseUrl}/`).catch(() => null);
        if (!page?.ok) return false;
        const status = await fetch(`${baseUrl}/api/status`, { method: "POST", body: "{}" }).catch(() => null);
        return status?.ok ?? false;
      },
      60000,
    );

    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    return { baseUrl, browser, dirs, env, berthd, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * @typedef {object} Stack
 * @property {string} baseUrl
 * @property {import("playwright-core").Browser} browser
 * @property {Record<string, string>} dirs
 * @property {NodeJS.ProcessEnv} env
 * @property {{ logFile: string, exited: boolean }} berthd
 * @property {() => Promise<void>} stop
 */

/**
 * Calls the console's API directly (to read state the test then checks on screen).
 * @param {string} baseUrl
 * @param {string} op
 * @param {object} [args]
 */
export async function api(baseUrl, op, args = {}) {
  const response = await fetch(`${baseUrl}/api/${op}`, { method: "POST", body: JSON.stringify(args) });
  const body = await response.json();
  if (!response.ok) throw new Error(`${op}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Saves a screenshot of the whole page (the window grown to the content's
 * height) under e2e/artifacts, and a copy under docs/screenshots when
 * `docsName` is given.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 * @param {string | null} [docsName]
 */
export async function screenshot(page, name, docsName = null) {
  const file = join(artifactsDir, `${name}.png`);
  const viewport = page.viewportSize() ?? { width: 1280, height: 800 };
  const contentHeight = await page.evaluate(() => {
    const main = document.querySelector("main");
    return main ? main.scrollHeight : document.documentElement.scrollHeight;
  });
  const height = Math.min(Math.max(viewport.height, contentHeight), 2400);
  if (height !== viewport.height) await page.setViewportSize({ width: viewport.width, height });
  await page.screenshot({ path: file, animations: "disabled", caret: "hide" });
  if (height !== viewport.height) await page.setViewportSize(viewport);
  if (docsName) {
    mkdirSync(docsScreenshotsDir, { recursive: true });
    copyFileSync(file, join(docsScreenshotsDir, `${docsName}.png`));
  }
  return file;
}

/**
 * The peers the browser tests need: under CI=true a missing one fails the run
 * loudly; otherwise each is reported with how to get it. Returns the reason to
 * skip the suite, or false.
 * @param {{ what: string, howTo: string }[]} extra what else this suite misses
 * @returns {string | false}
 */
export function browserPeers(extra = []) {
  const gaps = [...missingPeers(), ...extra];
  if (gaps.length > 0 && process.env.CI === "true") {
    throw new Error(`CI=true and the browser tests cannot run: ${gaps.map((g) => `${g.what} is missing. ${g.howTo}`).join(" ")}`);
  }
  for (const g of gaps) missing(null, g.what, g.howTo);
  return gaps.length > 0 ? "peers missing (see above)" : false;
}

/**
 * A 1280×800 page in the stack's browser whose script errors are collected
 * into `errors`.
 * @param {Stack} stack
 * @param {string[]} errors
 * @param {number} timeoutMs the default timeout of its waits
 */
export async function openPage(stack, errors, timeoutMs = 20000) {
  const context = await stack.browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    // Refused API calls (a 4xx the page handles) are logged by Chromium too; they are not script errors.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console: ${m.text()}`);
  });
  return page;
}
