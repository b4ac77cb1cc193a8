// Berth's admin UI in real Chromium against a real `berthd console`.
// Run with `npm run e2e` (after `npm run build` and `cargo build -p berthd`).
// The S3 scenario uses the S3 server of scripts/storage-servers.sh
// (BERTH_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY, _SECRET_KEY, _REGION).

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { api, browserPeers, freePort, openPage, screenshot, startStack } from "./harness.mjs";

const CI = process.env.CI === "true";
const skip = browserPeers();

const s3 = {
  endpoint: process.env.BERTH_TEST_S3_ENDPOINT,
  bucket: process.env.BERTH_TEST_S3_BUCKET,
  accessKey: process.env.BERTH_TEST_S3_ACCESS_KEY,
  secretKey: process.env.BERTH_TEST_S3_SECRET_KEY,
  region: process.env.BERTH_TEST_S3_REGION ?? "us-east-1",
};

describe("Berth console in Chromium", { skip }, () => {
  /** @type {import("./harness.mjs").Stack} */
  let stack;
  /** @type {import("playwright-core").Page} */
  let page;
  /** @type {string[]} */
  const pageErrors = [];
  /** Which backend the save scenario used, for the credentials check. */
  let savedDriver = "";

  before(async () => {
    stack = await startStack();
    page = await openPage(stack, pageErrors);
  });

  after(async () => {
    await stack?.stop();
  });

  /** @param {string} hash */
  async function open(hash) {
    // A fresh load each time, so no page keeps the state of a previous test.
    await page.goto("about:blank");
    await page.goto(`${stack.baseUrl}/#/${hash}`);
    await page.locator(`main[data-page="${hash}"]`).waitFor();
  }

  /** @param {string} driver */
  async function selectDriver(driver) {
    await page.selectOption('[data-testid="driver-select"]', driver);
    await page.locator(`[data-testid="storage-fields"][data-driver="${driver}"]`).waitFor({ state: "attached" });
  }

  /** Fills a storage setting if the form has it; reports whether it did.
   * @param {string} key @param {string | boolean} value */
  async function setField(key, value) {
    const field = page.locator(`[data-testid="field-${key}"]`);
    if ((await field.count()) === 0) return false;
    // Advanced settings live in a collapsed <details>: open it first.
    const details = page.locator("details.advanced");
    if (!(await field.isVisible()) && (await details.count()) > 0) await details.locator("summary").click();
    if (typeof value === "boolean") await field.locator('input[type="checkbox"]').setChecked(value);
    else if ((await field.locator("select").count()) > 0) await field.locator("select").selectOption(value);
    else await field.locator("input, textarea").first().fill(value);
    return true;
  }

  /** @param {Record<string, string | boolean>} values */
  async function fillS3(values) {
    await selectDriver("s3");
    for (const [key, value] of Object.entries(values)) await setField(key, value);
  }

  test("the status page shows the registry running", async () => {
    await open("status");
    await page.locator('[data-testid="state-badge"][data-state="running"]').first().waitFor({ timeout: 30000 });
    const status = await api(stack.baseUrl, "status");
    assert.equal(status.state, "running");
    assert.equal(await page.locator('[data-testid="status-address"]').textContent(), status.address);
    // TLS by default: the address is https, and the certificate is shown.
    assert.match(status.url, /^https:\/\/127\.0\.0\.1:\d+\/v2\/$/);
    assert.equal(await page.locator('[data-testid="status-url"]').textContent(), status.url);
    assert.match((await page.locator('[data-testid="status-certificate"]').textContent()) ?? "", /127\.0\.0\.1/);
    assert.match((await page.locator('[data-testid="status-driver"]').textContent()) ?? "", /filesystem/);
    // The live log shows the sidecar's output.
    await page.locator('[data-testid="log-lines"] .line').first().waitFor({ timeout: 15000 });
    await screenshot(page, "01-status");
  });

  test("restart from the status page", async () => {
    await open("status");
    const before = await api(stack.baseUrl, "status");
    await page.click('[data-testid="action-restart"]');
    await page.locator(".toast.success").filter({ hasText: "Registry restarted" }).waitFor({ timeout: 60000 });
    const after = await api(stack.baseUrl, "status");
    assert.equal(after.state, "running");
    assert.notEqual(after.pid, before.pid, "restart should start a new sidecar process");
  });

  test("trust page: the certificate, trust after a dry run, verify, one-liners, untrust", async () => {
    await open("trust");
    const status = await api(stack.baseUrl, "trustStatus");
    const registry = status.registry;
    assert.match(registry, /^127\.0\.0\.1:\d+$/);
    const fingerprint = page.locator('[data-testid="trust-ca-fingerprint"]');
    await fingerprint.waitFor();
    assert.equal(await fingerprint.textContent(), status.ca.sha256Fingerprint);
    assert.match((await page.locator('[data-testid="trust-ca-subject"]').textContent()) ?? "", /Berth CA on /);
    assert.match((await page.locator('[data-testid="trust-server-names"]').textContent()) ?? "", /127\.0\.0\.1/);
    assert.match((await page.locator('[data-testid="trust-expiry"]').textContent()) ?? "", /\d{4}/);
    await page.locator('[data-testid="trust-root-notice"]', { hasText: stack.dirs.trustRoot }).waitFor();
    const row = (/** @type {string} */ target) => page.locator(`[data-testid="trust-client-row"][data-target="${target}"]`);
    for (const [target, state] of [
      ["system", "not-trusted"],
      ["docker", "not-trusted"],
      ["containers", "not-trusted"],
      ["containerd", "not-present"],
      ["nss", "not-present"],
    ]) {
      assert.equal(await row(target).getAttribute("data-state"), state, target);
    }
    assert.match((await row("containerd").textContent()) ?? "", /Not on this machine/);

    // The one-liners carry the hash of the very script the registry serves.
    const lines = await api(stack.baseUrl, "trustOneLiners");
    const linux = (await page.locator('[data-testid="one-liner-linux"] code').textContent()) ?? "";
    assert.equal(linux, lines.linux);
    assert.ok(linux.includes(`https://${registry}/ca/install.sh`) && linux.includes(lines.shSha256), linux);
    assert.ok(((await page.locator('[data-testid="one-liner-windows"] code').textContent()) ?? "").includes(lines.ps1Sha256.toUpperCase()));

    // Trust: the dry run first, naming every file; nothing written before the click.
    const anchor = join(stack.dirs.trustRoot, "usr/local/share/ca-certificates/berth-127.0.0.1.crt");
    const dockerCa = join(stack.dirs.trustRoot, "etc/docker/certs.d", registry, "ca.crt");
    const podmanCa = join(stack.dirs.trustRoot, "etc/containers/certs.d", registry, "ca.crt");
    await page.click('[data-testid="trust-apply-open"]');
    await page.locator('[data-testid="trust-plan"][data-action="trust"] [data-testid="trust-plan-line"]').first().waitFor();
    for (const file of [anchor, dockerCa, podmanCa]) {
      await page.locator(`[data-testid="trust-plan-line"][data-path="${file}"][data-elevated="true"]`).waitFor();
    }
    await page.locator('[data-testid="trust-plan-line"]', { hasText: "update-ca-certificates" }).waitFor();
    assert.ok(!existsSync(anchor), "nothing is written before the confirmation");
    await screenshot(page, "15-trust-plan");
    await page.click('[data-testid="trust-plan-confirm"]');
    await page.locator(".toast.success").filter({ hasText: "trusts the registry's CA" }).waitFor({ timeout: 30000 });
    const caPem = readFileSync(join(stack.dirs.appData, "ca", "ca.crt"), "utf8");
    for (const file of [anchor, dockerCa, podmanCa]) {
      assert.equal(readFileSync(file, "utf8"), caPem, file);
    }
    for (const target of ["system", "docker", "containers"]) {
      await page.locator(`[data-testid="trust-client-row"][data-target="${target}"][data-state="trusted"]`).waitFor();
    }

    // Verify: real TLS handshakes with the registry, per client, with only its files.
    await page.click('[data-testid="trust-verify"]');
    await page.locator('[data-testid="verify-result"][data-all-trusted="true"]').waitFor({ timeout: 30000 });
    assert.equal(await row("docker").locator('[data-testid="verify-state"]').getAttribute("data-state"), "trusted");
    // The picture for the README, without the toast of the click before.
    for (const close of await page.locator('.toast button[aria-label="Dismiss"]').all()) await close.click();
    await page.locator(".toast").first().waitFor({ state: "detached" });
    await page.evaluate(() => document.querySelector("main")?.scrollTo(0, 0));
    await screenshot(page, "16-trust", "trust");

    // The copy buttons put the exact command on the clipboard.
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.baseUrl });
    await page.locator('[data-testid="one-liner-linux"] button').click();
    await page.locator('[data-testid="one-liner-linux"] button', { hasText: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), lines.linux);

    // Untrust removes exactly those files; the directories they made go too.
    await page.click('[data-testid="trust-untrust-open"]');
    await page.locator('[data-testid="trust-plan"][data-action="untrust"] [data-testid="trust-plan-line"]').first().waitFor();
    await page.click('[data-testid="trust-plan-confirm"]');
    await page.locator(".toast.success").filter({ hasText: "no longer trusted" }).waitFor({ timeout: 30000 });
    for (const file of [anchor, dockerCa, podmanCa]) assert.ok(!existsSync(file), `${file} is removed`);
    assert.ok(existsSync(join(stack.dirs.trustRoot, "etc/docker/certs.d")), "parents stay");
    await page.locator('[data-testid="trust-client-row"][data-target="docker"][data-state="not-trusted"]').waitFor();

    // The insecure alternative, and back.
    const daemonJson = join(stack.dirs.trustRoot, "etc/docker/daemon.json");
    await page.click('[data-testid="insecure-add"]');
    await page.locator(`[data-testid="trust-plan"][data-action="insecure"] [data-testid="trust-plan-line"][data-path="${daemonJson}"]`).waitFor();
    await page.click('[data-testid="trust-plan-confirm"]');
    await page.locator('[data-testid="insecure-row"][data-target="docker"][data-state="insecure"]').waitFor({ timeout: 30000 });
    assert.deepEqual(JSON.parse(readFileSync(daemonJson, "utf8"))["insecure-registries"], [registry]);
    await page.click('[data-testid="insecure-remove"]');
    await page.locator('[data-testid="trust-plan"][data-action="secure"] [data-testid="trust-plan-line"]').first().waitFor();
    await page.click('[data-testid="trust-plan-confirm"]');
    await page.locator('[data-testid="insecure-row"][data-target="docker"][data-state="verified"]').waitFor({ timeout: 30000 });
    assert.ok(!existsSync(daemonJson), "daemon.json held only Berth's entry, so it is gone");
  });

  test("trust page: extra names for the certificate, a bad one refused", async () => {
    await open("trust");
    const before = await api(stack.baseUrl, "status");
    await page.click('[data-testid="cert-names-open"]');
    const dialog = page.locator('[data-testid="cert-names-dialog"]');
    await dialog.waitFor();
    // The first check happens as the admin types.
    await page.fill('[data-testid="cert-name-input"]', "not a name");
    await page.click('[data-testid="cert-name-add"]');
    await dialog.locator(".field-error", { hasText: "DNS name" }).waitFor();
    await page.fill('[data-testid="cert-name-input"]', "Registry.Berth.test");
    await page.press('[data-testid="cert-name-input"]', "Enter");
    await page.fill('[data-testid="cert-name-input"]', "10.9.8.7");
    await page.click('[data-testid="cert-name-add"]');
    await dialog.locator('[data-testid="cert-names-list"]', { hasText: "registry.berth.test" }).waitFor();
    await screenshot(page, "17-trust-names");
    await page.click('[data-testid="cert-names-save"]');
    await page.locator(".toast.success").filter({ hasText: "Certificate reissued" }).waitFor({ timeout: 30000 });
    const names = (await page.locator('[data-testid="trust-server-names"]').textContent()) ?? "";
    assert.match(names, /registry\.berth\.test/);
    assert.match(names, /10\.9\.8\.7/);
    const after = await api(stack.baseUrl, "status");
    assert.notEqual(after.pid, before.pid, "the registry restarted on the new certificate");
    assert.ok(after.certificate.names.includes("registry.berth.test"), JSON.stringify(after.certificate));
    const trust = await api(stack.baseUrl, "trustStatus");
    assert.deepEqual(trust.extraNames, ["registry.berth.test", "10.9.8.7"]);
    // The import dialog opens with both choices and refuses a key that is not PEM.
    await page.click('[data-testid="cert-import-open"]');
    await page.locator('[data-testid="cert-import-dialog"]').waitFor();
    await page.click('[data-testid="cert-kind-own-certificate"]');
    await page.locator('[data-testid="cert-import-bundle"]').waitFor();
    await screenshot(page, "18-trust-import");
    await page.keyboard.press("Escape");
  });

  test("the storage form follows the selected backend", async () => {
    await open("storage");
    await page.locator('[data-testid="storage-fields"]').waitFor({ state: "attached" });
    const schema = await api(stack.baseUrl, "storageSchema");
    const labels = await page.locator('[data-testid="driver-select"] option').allTextContents();
    assert.ok(labels.length >= 5, `expected five backends, got ${labels.join(", ")}`);
    for (const form of schema) {
      await selectDriver(form.driver);
      for (const field of form.fields.filter((/** @type {any} */ f) => !f.advanced)) {
        await page.locator(`[data-testid="field-${field.key}"]`).waitFor();
      }
      const notice = page.locator('[data-testid="driver-unavailable"]');
      assert.equal(await notice.count(), form.available ? 0 : 1, `${form.driver}: the "not available" notice`);
    }
    await selectDriver("azure");
    await screenshot(page, "02-storage-azure");
    await selectDriver("s3");
    // Inline validation: a required field left empty says so on blur.
    await page.locator('[data-testid="field-bucket"] input').focus();
    await page.locator('[data-testid="field-bucket"] input').blur();
    await page.locator('[data-testid="field-bucket"] [data-testid="field-error"]').waitFor();
    await setField("bucket", "My_Bucket");
    assert.match((await page.locator('[data-testid="field-bucket"] [data-testid="field-error"]').textContent()) ?? "", /lowercase/);
    await setField("bucket", "berth-images");
    await page.locator('[data-testid="iam-policy-text"]').waitFor();
    assert.match((await page.locator('[data-testid="iam-policy-text"]').textContent()) ?? "", /berth-images/);
    await screenshot(page, "03-storage-s3-form");
  });

  test("a failing connection test shows the failing step and the backend's error", async () => {
    const closedPort = await freePort();
    await open("storage");
    await page.locator('[data-testid="storage-fields"]').waitFor({ state: "attached" });
    await fillS3({
      bucket: "berth-closed",
      region: "us-east-1",
      accesskey: "AKIAEXAMPLE",
      secretkey: "not-a-real-secret",
      regionendpoint: `http://127.0.0.1:${closedPort}`,
      forcepathstyle: true,
    });
    const form = (await api(stack.baseUrl, "storageSchema")).find((/** @type {any} */ d) => d.driver === "s3");
    await page.click('[data-testid="storage-test"]');
    if (!form.available) {
      // A build without the S3 driver: the server's message says so.
      await page.locator('[data-testid="error-notice"]').waitFor();
      await screenshot(page, "04-storage-s3-unavailable");
      return;
    }
    const result = page.locator('[data-testid="probe-result"][data-passed="false"]');
    await result.waitFor({ timeout: 60000 });
    const failed = page.locator('[data-testid="probe-step"][data-status="failed"]');
    const openError = page.locator('[data-testid="probe-open-error"]');
    assert.ok((await failed.count()) + (await openError.count()) > 0, "a failed step or an open error is shown");
    const detail = (await result.textContent()) ?? "";
    assert.match(detail, new RegExp(`127\\.0\\.0\\.1:${closedPort}|connect|refused|error`, "i"), "the backend's error is shown");
    await screenshot(page, "04-storage-test-failed");
    // Nothing was saved.
    assert.equal((await api(stack.baseUrl, "storageGet")).driver, "filesystem");
  });

  test("test connection passes, save restarts the registry on the new backend", async () => {
    await open("storage");
    await page.locator('[data-testid="storage-fields"]').waitFor({ state: "attached" });
    const schema = await api(stack.baseUrl, "storageSchema");
    const s3Available = schema.some((/** @type {any} */ d) => d.driver === "s3" && d.available);
    if (s3Available && !s3.endpoint && CI) {
      throw new Error("CI=true and BERTH_TEST_S3_ENDPOINT is not set: run the e2e under scripts/storage-servers.sh (source it with `ceph`).");
    }
    if (s3Available && s3.endpoint && s3.bucket && s3.accessKey && s3.secretKey) {
      savedDriver = "s3";
      await fillS3({
        bucket: s3.bucket,
        region: s3.region,
        accesskey: s3.accessKey,
        secretkey: s3.secretKey,
        regionendpoint: s3.endpoint,
        forcepathstyle: true,
        secure: s3.endpoint.startsWith("https:"),
        rootdirectory: "/berth-ui-e2e",
      });
    } else {
      console.log(
        s3Available
          ? "NOTE: BERTH_TEST_S3_* not set (source scripts/storage-servers.sh ceph); saving a filesystem backend instead."
          : "NOTE: this berthd has no S3 driver; saving a filesystem backend instead.",
      );
      savedDriver = "filesystem";
      await selectDriver("filesystem");
      await setField("rootdirectory", `${stack.dirs.root}/registry-ui`);
    }
    await page.click('[data-testid="storage-test"]');
    await page.locator('[data-testid="probe-result"]').waitFor({ timeout: 60000 });
    const passed = await page.locator('[data-testid="probe-result"]').getAttribute("data-passed");
    assert.equal(passed, "true", `probe: ${await page.locator('[data-testid="probe-result"]').textContent()}`);
    const statuses = await page.locator('[data-testid="probe-step"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-status")));
    assert.ok(statuses.length >= 4, `probe steps: ${statuses}`);
    assert.ok(statuses.every((s) => s === "passed"), `every step passes: ${statuses}`);
    // Fold the advanced settings again so the picture shows the form and the probe.
    if (await page.locator("details.advanced[open]").count()) await page.locator("details.advanced summary").click();
    await screenshot(page, "05-storage-test-passed", "storage");

    await page.click('[data-testid="storage-save"]');
    await page.locator('[data-testid="save-progress"]').waitFor();
    await page.locator(".toast.success").filter({ hasText: "Storage settings saved" }).waitFor({ timeout: 90000 });
    await screenshot(page, "06-storage-saved");
    const saved = await api(stack.baseUrl, "storageGet");
    assert.equal(saved.driver, savedDriver);
    if (savedDriver === "s3") {
      assert.ok(saved.secretsSet.includes("secretkey"), "the secret key is stored in the keychain");
      assert.ok(!JSON.stringify(saved.values).includes(s3.secretKey ?? "\u0000"), "the secret is never returned");
      await page.locator('[data-testid="field-secretkey"] [data-testid="secret-stored"]').waitFor();
    }

    await open("status");
    await page.locator('[data-testid="state-badge"][data-state="running"]').first().waitFor({ timeout: 60000 });
    await page.locator('[data-testid="status-driver"]', { hasText: savedDriver }).waitFor();
    await screenshot(page, `07-status-on-${savedDriver}`, "status");
  });

  test("credentials list the saved secret", async () => {
    await open("credentials");
    await page.locator('[data-testid="keychain-status"][data-available="true"]').waitFor();
    if (savedDriver !== "s3") {
      await page.locator('[data-testid="credentials-empty"]').waitFor();
      await screenshot(page, "08-credentials-empty", "credentials");
      return;
    }
    const row = page.locator('[data-testid="credential-row"][data-name="storage.s3.secretkey"]');
    await row.waitFor();
    assert.ok(!((await page.locator("main").textContent()) ?? "").includes(s3.secretKey ?? "\u0000"), "no secret value on screen");
    await screenshot(page, "08-credentials", "credentials");
    // Replace (with the same value, so the registry keeps working) through the dialog.
    await row.locator('[data-testid="credential-replace"]').click();
    await page.locator('[data-testid="credential-value"]').fill(s3.secretKey ?? "");
    await screenshot(page, "09-credentials-replace");
    await page.click('[data-testid="credential-replace-confirm"]');
    await page.locator(".toast.success").filter({ hasText: "replaced" }).waitFor();
    // Delete asks first; cancel keeps it.
    await row.locator('[data-testid="credential-delete"]').click();
    await page.locator('[data-testid="credential-delete-confirm"]').waitFor();
    await screenshot(page, "10-credentials-delete-confirm");
    await page.getByRole("button", { name: "Cancel" }).click();
    await row.waitFor();
  });

  test("a config.yml with an error shows its line", async () => {
    await open("config");
    const bad = [
      "version: 0.1",
      "storage:",
      "  filesystem:",
      "    rootdirectory: /var/lib/registry",
      "   delete: {enabled: true",
      "http:",
      "  addr: 127.0.0.1:5000",
      "",
    ].join("\n");
    await page.setInputFiles('[data-testid="config-file"]', { name: "broken.yml", mimeType: "application/yaml", buffer: Buffer.from(bad) });
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="yaml-editor"]');
      return el instanceof HTMLTextAreaElement && el.value.includes("delete: {enabled");
    });
    await page.click('[data-testid="config-review"]');
    const error = page.locator('[data-testid="review-error"]').first();
    await error.waitFor();
    const text = (await error.textContent()) ?? "";
    const line = /Line (\d+)/.exec(text);
    assert.ok(line, `the error names its line: ${text}`);
    await page.locator(`[data-testid="editor-mark"][data-line="${line[1]}"]`).waitFor();
    assert.ok(await page.locator('[data-testid="config-save"]').isDisabled(), "Save stays disabled");
    await screenshot(page, "11-config-error");
  });

  test("a valid config.yml: start from the current one, review the diff, then save", async () => {
    await open("config");
    const before = await api(stack.baseUrl, "status");
    await page.getByRole("button", { name: "Start from current" }).click();
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="yaml-editor"]');
      return el instanceof HTMLTextAreaElement && el.value.includes("storage:");
    });
    const current = await page.locator('[data-testid="yaml-editor"]').inputValue();
    // One edit an admin would make: a more verbose log.
    const edited = /^log:\n {2}level: \w+$/m.test(current)
      ? current.replace(/^(log:\n {2}level: )\w+$/m, "$1debug")
      : current.replace(/^version: .*$/m, (v) => `${v}\nlog:\n  level: debug`);
    assert.notEqual(edited, current);
    await page.fill('[data-testid="yaml-editor"]', edited);
    await page.evaluate(() => document.querySelector('[data-testid="yaml-editor"]')?.scrollTo(0, 0));
    await page.click('[data-testid="config-review"]');
    await page.locator('[data-testid="review-result"]').waitFor();
    await page.locator('[data-testid="config-diff"] .drow[data-kind="changed"], [data-testid="config-diff"] .drow[data-kind="added"]').first().waitFor();
    const changes = (await page.locator('[data-testid="review-changes"]').textContent()) ?? "";
    assert.match(changes, /log\.level/, `the changed key is listed: ${changes}`);
    await screenshot(page, "12-config-review", "config");
    await page.click('[data-testid="config-save"]');
    await page.locator(".toast.success").filter({ hasText: "Configuration saved" }).waitFor({ timeout: 90000 });
    const after = await api(stack.baseUrl, "status");
    assert.equal(after.state, "running");
    assert.equal(after.driver, before.driver, "the storage backend is unchanged");
    const saved = await api(stack.baseUrl, "configDownload", { includeSecrets: false });
    assert.match(saved.yaml, /level: debug/);
    await screenshot(page, "13-config-saved");
  });

  test("a config.yml that switches the backend: review, then save", async () => {
    await open("config");
    const status = await api(stack.baseUrl, "status");
    const yaml = [
      "version: 0.1",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${stack.dirs.root}/registry-yaml`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${status.address}`,
      "",
    ].join("\n");
    await page.fill('[data-testid="yaml-editor"]', yaml);
    await page.click('[data-testid="config-review"]');
    await page.locator('[data-testid="review-result"]').waitFor();
    const changes = (await page.locator('[data-testid="review-changes"]').textContent()) ?? "";
    assert.match(changes, /storage\.filesystem\.rootdirectory/, `the changed keys are listed: ${changes}`);
    await screenshot(page, "14-config-review-switch");
    await page.click('[data-testid="config-save"]');
    await page.locator(".toast.success").filter({ hasText: "Configuration saved" }).waitFor({ timeout: 90000 });
    const after = await api(stack.baseUrl, "status");
    assert.equal(after.state, "running");
    assert.equal(after.driver, "filesystem");
  });

  test("the window works at 900 px wide", async () => {
    await page.setViewportSize({ width: 900, height: 760 });
    for (const p of ["status", "storage", "config", "credentials", "trust"]) {
      await open(p);
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${p}: no horizontal scroll at 900 px (overflow ${overflow}px)`);
      await screenshot(page, `20-narrow-${p}`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("no script errors in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
