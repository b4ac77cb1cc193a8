// The Webhooks page in real Chromium against a real `berthd console`, its
// sidecar registry, and a webhook receiver started here on 127.0.0.1:
// add an endpoint (with a secret header), send a test event and see the
// receiver's answer, read the delivery log, disable the endpoint.
// Run with `node --test e2e/webhooks.test.mjs` (after `npm run build` and
// `cargo build -p berthd`).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { api, browserPeers, freePort, openPage, screenshot, startStack, waitFor } from "./harness.mjs";

const skip = browserPeers();

describe("Webhooks page in Chromium", { skip }, () => {
  /** @type {import("./harness.mjs").Stack} */
  let stack;
  /** @type {import("playwright-core").Page} */
  let page;
  /** @type {string[]} */
  const pageErrors = [];
  /** What the receiver got: headers and parsed bodies.
   * @type {{ headers: import("node:http").IncomingHttpHeaders, body: any }[]} */
  const received = [];
  /** @type {import("node:http").Server} */
  let receiver;
  let receiverUrl = "";

  before(async () => {
    const port = await freePort();
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: JSON.parse(body || "null") });
        res.writeHead(202, { "content-type": "text/plain" });
        res.end("received by the e2e receiver");
      });
    });
    await new Promise((r) => receiver.listen(Number(port), "127.0.0.1", () => r(null)));
    receiverUrl = `http://127.0.0.1:${port}/hooks`;

    stack = await startStack();
    page = await openPage(stack, pageErrors, 60000);
    await waitFor("the registry sidecar to run", async () => (await api(stack.baseUrl, "status")).state === "running", 60000);
  });

  after(async () => {
    await stack?.stop();
    await new Promise((r) => receiver?.close(r));
  });

  test("empty state, add an endpoint, test it, see the delivery log, disable it", async () => {
    await page.goto(`${stack.baseUrl}/#/webhooks`);
    await page.locator('main[data-page="webhooks"]').waitFor();
    await page.locator('[data-testid="webhooks-empty"]').waitFor();
    await screenshot(page, "webhooks-empty");

    // A bad URL is refused in the form, nothing saved.
    await page.click('[data-testid="webhook-add"]');
    await page.fill('[data-testid="webhook-name"]', "ci");
    await page.fill('[data-testid="webhook-url"]', "hooks.example.com/events");
    await page.click('[data-testid="webhook-save"]');
    await page.getByText("enter a URL starting with http:// or https://").waitFor();

    await page.fill('[data-testid="webhook-url"]', receiverUrl);
    await page.click('[data-testid="webhook-header-add"]');
    await page.fill('[data-testid="webhook-header-name"]', "Authorization");
    await page.fill('[data-testid="webhook-header-value"]', "Bearer e2e-hook-secret");
    await screenshot(page, "webhooks-editor");
    await page.click('[data-testid="webhook-save"]');
    const row = page.locator('[data-testid="webhook-row"][data-name="ci"]');
    await row.waitFor();
    await row.locator(".badge.ok").waitFor();

    // The secret is in the keychain, not in config.yml.
    const config = await api(stack.baseUrl, "configDownload", { includeSecrets: false });
    assert.ok(config.yaml.includes(receiverUrl), config.yaml);
    assert.ok(!config.yaml.includes("e2e-hook-secret"), "the header's secret is written into config.yml");

    await row.locator('[data-testid="webhook-test"]').click();
    const result = page.locator('[data-testid="webhook-test-result"]');
    await result.locator('[data-testid="webhook-test-status"]').getByText("The endpoint answered 202").waitFor();
    assert.equal(await result.locator('[data-testid="webhook-test-body"]').textContent(), "received by the e2e receiver");
    assert.equal(received.length, 1);
    assert.equal(received[0].headers["authorization"], "Bearer e2e-hook-secret");
    assert.equal(received[0].headers["content-type"], "application/vnd.docker.distribution.events.v1+json");
    assert.equal(received[0].body.events[0].action, "test");

    const log = page.locator('[data-testid="webhook-log"][data-name="ci"]');
    const attempt = log.locator('[data-testid="webhook-attempt"]').first();
    await attempt.waitFor();
    assert.equal(await attempt.getAttribute("data-status"), "202");
    assert.equal(await attempt.getAttribute("data-outcome"), "test");
    for (const close of await page.locator('[data-testid="toast"] button.close').all()) await close.click();
    await screenshot(page, "webhooks", "webhooks");

    // Editing keeps the stored secret when its field is left empty.
    await row.locator('[data-testid="webhook-toggle"]').click();
    await row.locator(".badge").getByText("Disabled").waitFor();
    const listed = await api(stack.baseUrl, "webhooksList");
    assert.equal(listed.endpoints[0].disabled, true);
    assert.equal(listed.endpoints[0].headers[0].value, "", "a secret header's value is never listed");
    await row.locator('[data-testid="webhook-toggle"]').click();
    await row.locator(".badge.ok").waitFor();
    await row.locator('[data-testid="webhook-test"]').click();
    await waitFor("the second test event", () => received.length >= 2, 30000);
    assert.equal(received[1].headers["authorization"], "Bearer e2e-hook-secret", "the stored secret survived the edit");

    assert.deepEqual(pageErrors, []);
  });
});
