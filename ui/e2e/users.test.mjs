// The Users page and the Status page's live panel in real Chromium against a
// real `berthd console` and its sidecar registry: add the first user (login
// turns on, the registry restarts), add a second, change a password, remove
// a user, the last one cannot be removed; the Status page shows live figures
// and switches read-only mode on and off.
// Run with `node --test e2e/users.test.mjs` (after `npm run build` and
// `cargo build -p berthd`).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, browserPeers, openPage, screenshot, startStack, waitFor } from "./harness.mjs";

const skip = browserPeers();

describe("Users page and live status in Chromium", { skip }, () => {
  /** @type {import("./harness.mjs").Stack} */
  let stack;
  /** @type {import("playwright-core").Page} */
  let page;
  /** @type {string[]} */
  const pageErrors = [];

  before(async () => {
    stack = await startStack();
    page = await openPage(stack, pageErrors, 60000);
    await waitFor("the registry sidecar to run", async () => (await api(stack.baseUrl, "status")).state === "running", 60000);
  });

  after(async () => {
    await stack?.stop();
  });

  /**
   * Fills and submits the user dialog.
   * @param {string | null} name the new user's name, or null when changing a password
   * @param {string} password
   * @param {string} [confirm]
   */
  async function submitUser(name, password, confirm = password) {
    if (name !== null) await page.fill('[data-testid="user-name"]', name);
    await page.fill('[data-testid="user-password-input"]', password);
    await page.fill('[data-testid="user-password-confirm"]', confirm);
    await page.click('[data-testid="user-save"]');
  }

  test("add the first user, add another, change a password, remove one", async () => {
    await page.goto(`${stack.baseUrl}/#/users`);
    await page.locator('main[data-page="users"]').waitFor();
    await page.locator('[data-testid="users-login-off"]').waitFor();
    await page.locator('[data-testid="users-empty"]').waitFor();
    await screenshot(page, "users-empty");

    await page.click('[data-testid="user-add"]');
    // Mistakes are caught in the dialog; nothing is saved.
    await submitUser("ci-bot", "short");
    await page.getByText("The password is too short.").waitFor();
    await submitUser("ci-bot", "first-password-1", "something-else");
    await page.getByText("The two passwords differ.").waitFor();
    await submitUser("ci-bot", "first-password-1");
    await page.getByText("Login is on").waitFor();
    await page.locator('[data-testid="users-login-on"]').waitFor();
    await page.locator('[data-testid="user-row"][data-name="ci-bot"]').waitFor();
    assert.equal((await api(stack.baseUrl, "usersList")).enabled, true);
    assert.equal(await page.locator('[data-testid="user-remove"]').isDisabled(), true, "the last user cannot be removed");

    await page.click('[data-testid="user-add"]');
    await submitUser("alice", "alices-password");
    await page.locator('[data-testid="user-row"][data-name="alice"]').waitFor();

    await page.locator('[data-testid="user-row"][data-name="alice"] [data-testid="user-password"]').click();
    await submitUser(null, "alices-new-password");
    await page.getByText("Password of alice changed").waitFor();
    await screenshot(page, "users", "users");

    await page.locator('[data-testid="user-row"][data-name="alice"] [data-testid="user-remove"]').click();
    await page.click('[data-testid="user-remove-confirm"]');
    await page.getByText("alice removed").waitFor();
    await waitFor("alice to leave the table", async () => (await page.locator('[data-testid="user-row"]').count()) === 1);
    assert.deepEqual((await api(stack.baseUrl, "usersList")).users, ["ci-bot"]);
    assert.deepEqual(pageErrors, []);
  });

  test("the Status page shows live figures and switches read-only mode", async () => {
    await page.goto(`${stack.baseUrl}/#/status`);
    await page.locator('[data-testid="live-metrics"]').waitFor();
    await page.locator('[data-testid="metric-pushed"]').waitFor();
    // A second sample gives a rate.
    await waitFor("a request rate", async () => (await page.locator('[data-testid="metric-rate"]').innerText()) !== "—", 15000);
    assert.match(await page.locator('[data-testid="metric-errors"]').innerText(), /^\d+$/);

    await page.click('[data-testid="readonly-toggle"]');
    await page.getByText("Read-only mode is on").waitFor();
    await page.locator('[data-testid="readonly-badge"]').waitFor();
    assert.equal((await api(stack.baseUrl, "status")).readOnly, true);
    await screenshot(page, "status-live", "status-live");

    await page.click('[data-testid="readonly-toggle"]');
    await page.getByText("Read-only mode is off").waitFor();
    assert.equal((await api(stack.baseUrl, "status")).readOnly, false);
    assert.deepEqual(pageErrors, []);
  });
});
