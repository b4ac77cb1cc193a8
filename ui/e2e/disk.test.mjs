// The Disk and Repositories pages in real Chromium against a real
// `berthd console`: images built here as OCI layouts (real tar+gzip layers)
// are pushed with skopeo into the console's registry, then browsed
// (repositories, tags, layers, platforms of an index), a tag is deleted
// after the preview of what becomes reclaimable, and Reclaim space shows
// its dry run before freeing the space. Run with `node --test e2e/disk.test.mjs`
// after `npm run build` and `cargo build -p berthd`.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { api, browserPeers, openPage, screenshot, startStack, waitFor } from "./harness.mjs";

const skip = browserPeers(
  existsSync("/usr/bin/skopeo") ? [] : [{ what: "skopeo (/usr/bin/skopeo)", howTo: "Install it with `apt-get install skopeo`." }],
);

const sha256 = (/** @type {Buffer} */ b) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** An OCI image layout that skopeo's `oci:` transport reads. */
class Layout {
  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
    mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
    writeFileSync(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    /** @type {object[]} */
    this.index = [];
  }

  /** @param {string} mediaType @param {Buffer} bytes */
  blob(mediaType, bytes) {
    const digest = sha256(bytes);
    writeFileSync(join(this.dir, "blobs/sha256", digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  }

  /** A real layer: a tar.gz holding `size` random bytes. @param {string} name @param {number} size */
  layer(name, size) {
    const work = join(this.dir, "..", `layer-${name}`);
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, `${name}.bin`), randomBytes(size));
    const out = join(this.dir, "..", `${name}.tar.gz`);
    const r = spawnSync("tar", ["-czf", out, "-C", work, "."]);
    assert.equal(r.status, 0, `tar: ${r.stderr}`);
    return this.blob("application/vnd.oci.image.layer.v1.tar+gzip", readFileSync(out));
  }

  /** @param {{os: string, architecture: string}} platform @param {{mediaType: string, digest: string, size: number}[]} layers @param {string} created */
  image(platform, layers, created) {
    const config = this.blob(
      "application/vnd.oci.image.config.v1+json",
      Buffer.from(JSON.stringify({ ...platform, created, config: { Cmd: ["/bin/true"] }, rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } })),
    );
    const manifest = this.blob(
      "application/vnd.oci.image.manifest.v1+json",
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers })),
    );
    return { manifest, config, layers, platform };
  }

  /** @param {string} tag @param {{mediaType: string, digest: string, size: number}} descriptor */
  tag(tag, descriptor) {
    this.index.push({ ...descriptor, annotations: { "org.opencontainers.image.ref.name": tag } });
    writeFileSync(join(this.dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: this.index }));
  }
}

/** Bytes of an image: its manifest, config and layers. */
const imageBytes = (/** @type {any} */ i) =>
  i.manifest.size + i.config.size + i.layers.reduce((/** @type {number} */ a, /** @type {{size: number}} */ l) => a + l.size, 0);

/** Every file under `dir`. @param {string} dir @returns {string[]} */
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe("Disk and Repositories pages in Chromium", { skip }, () => {
  /** @type {import("./harness.mjs").Stack} */
  let stack;
  /** @type {import("playwright-core").Page} */
  let page;
  /** @type {string[]} */
  const pageErrors = [];
  let address = "";
  /** @type {any} */
  let v1;
  /** @type {any} */
  let v2;

  before(async () => {
    stack = await startStack();
    page = await openPage(stack, pageErrors);
    const status = await waitFor("the registry to run", async () => {
      const s = await api(stack.baseUrl, "status");
      return s.state === "running" ? s : null;
    }, 60000);
    address = status.address;

    // Images with known layers: two tags sharing a base layer, and a two-platform index.
    const layout = new Layout(join(stack.dirs.root, "layout"));
    const base = layout.layer("base", 1_500_000);
    v1 = layout.image({ os: "linux", architecture: "amd64" }, [base, layout.layer("app-1", 400_000)], "2026-03-01T09:30:00Z");
    v2 = layout.image({ os: "linux", architecture: "amd64" }, [base, layout.layer("app-2", 700_000)], "2026-03-08T16:05:00Z");
    layout.tag("1.0", v1.manifest);
    layout.tag("2.0", v2.manifest);
    const toolsBase = layout.layer("tools-base", 300_000);
    const amd = layout.image({ os: "linux", architecture: "amd64" }, [toolsBase, layout.layer("tools-amd64", 250_000)], "2026-02-20T12:00:00Z");
    const arm = layout.image({ os: "linux", architecture: "arm64" }, [toolsBase, layout.layer("tools-arm64", 240_000)], "2026-02-20T12:00:00Z");
    const index = layout.blob(
      "application/vnd.oci.image.index.v1+json",
      Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [amd, arm].map((i) => ({ ...i.manifest, platform: i.platform })),
      })),
    );
    layout.tag("3.2", index);

    // skopeo trusts only the app's CA for the registry.
    const certs = join(stack.dirs.root, "certs");
    mkdirSync(certs, { recursive: true });
    copyFileSync(join(stack.dirs.appData, "ca", "ca.crt"), join(certs, "ca.crt"));
    const push = (/** @type {string} */ tag, /** @type {string} */ dest, all = false) => {
      const r = spawnSync(
        "/usr/bin/skopeo",
        ["--insecure-policy", "copy", ...(all ? ["--all"] : []), "--dest-cert-dir", certs, `oci:${layout.dir}:${tag}`, `docker://${address}/${dest}`],
        { encoding: "utf8", env: { ...process.env, HOME: stack.dirs.home } },
      );
      assert.equal(r.status, 0, `skopeo copy ${tag}: ${r.stderr}`);
    };
    push("1.0", "team/app:1.0");
    push("2.0", "team/app:2.0");
    push("3.2", "tools/cli:3.2", true);
    push("1.0", "team/web:latest");
  });

  after(async () => {
    await stack?.stop();
    assert.deepEqual(pageErrors, [], "the pages logged no script errors");
  });

  /** @param {string} hash */
  async function open(hash) {
    await page.goto("about:blank");
    await page.goto(`${stack.baseUrl}/#/${hash}`);
    await page.locator(`main[data-page="${hash}"]`).waitFor();
  }

  async function dismissToasts() {
    for (const close of await page.locator('.toast button[aria-label="Dismiss"]').all()) await close.click().catch(() => {});
    await page.locator(".toast").first().waitFor({ state: "detached" }).catch(() => {});
  }

  test("repositories, tags, layers and the platforms of an index", async () => {
    await open("repositories");
    const rows = page.locator('[data-testid="repository-row"]');
    await waitFor("three repositories", async () => (await rows.count()) === 3);
    assert.deepEqual(await rows.evaluateAll((r) => r.map((e) => e.getAttribute("data-name"))), ["team/app", "team/web", "tools/cli"]);
    // Sizes arrive with the first usage scan.
    await waitFor("sizes in the list", async () => {
      await open("repositories");
      const text = await page.locator('[data-testid="repository-row"][data-name="team/app"]').textContent();
      return text && /MiB/.test(text);
    }, 30000);
    await screenshot(page, "30-repositories", "repositories");

    await page.locator('[data-testid="repository-row"][data-name="team/app"] button').click();
    const tagRows = page.locator('[data-testid="tag-row"]');
    await waitFor("two tags", async () => (await tagRows.count()) === 2);
    const sizes = await page.locator('[data-testid="tag-bytes"]').allTextContents();
    assert.deepEqual(sizes, [imageBytes(v1), imageBytes(v2)].map((b) => `${(b / 1048576).toFixed(1)} MiB`));
    assert.match((await tagRows.first().textContent()) ?? "", /Mar 1, 2026|1 Mar 2026/);
    await screenshot(page, "31-tags");

    await page.locator('[data-testid="tag-row"][data-tag="1.0"] [data-testid="tag-open"]').click();
    await page.locator('[data-testid="layers-table"]').waitFor();
    assert.equal(await page.locator('[data-testid="manifest-digest"]').textContent(), v1.manifest.digest);
    assert.equal(await page.locator('[data-testid="layer-row"]').count(), 2);
    const layerSizes = await page.locator('[data-testid="layer-size"]').allTextContents();
    assert.equal(layerSizes[0], `${(v1.layers[0].size / 1048576).toFixed(1)} MiB`);
    assert.equal(await page.locator('[data-testid="pull-command"]').textContent(), `docker pull ${address}/team/app:1.0`);
    await page.getByRole("button", { name: "podman" }).first().click();
    assert.equal(await page.locator('[data-testid="pull-command"]').textContent(), `podman pull ${address}/team/app:1.0`);
    await screenshot(page, "32-manifest", "repository-manifest");

    await page.locator('[data-testid="crumbs"] button', { hasText: "Repositories" }).click();
    await page.locator('[data-testid="repository-row"][data-name="tools/cli"] button').click();
    await page.locator('[data-testid="tag-row"][data-tag="3.2"]').waitFor();
    assert.match((await page.locator('[data-testid="tag-row"][data-tag="3.2"]').textContent()) ?? "", /linux\/amd64.*linux\/arm64/);
    await page.locator('[data-testid="tag-row"][data-tag="3.2"] [data-testid="tag-open"]').click();
    await page.locator('[data-testid="platforms-table"]').waitFor();
    assert.deepEqual(
      await page.locator('[data-testid="platform-row"]').evaluateAll((r) => r.map((e) => e.getAttribute("data-platform"))),
      ["linux/amd64", "linux/arm64"],
    );
    await page.locator('[data-testid="platform-row"][data-platform="linux/arm64"] button').click();
    await page.locator('[data-testid="layers-table"]').waitFor();
    assert.match((await page.locator('[data-testid="manifest-card"]').textContent()) ?? "", /linux\/arm64/);
  });

  test("delete a tag after seeing what becomes reclaimable", async () => {
    await open("repositories");
    await page.locator('[data-testid="repository-row"][data-name="team/app"] button').click();
    await page.locator('[data-testid="tag-row"][data-tag="2.0"] [data-testid="tag-delete"]').click();
    const dialog = page.locator('[data-testid="delete-dialog"]');
    await dialog.locator('[data-testid="delete-preview"]').waitFor();
    // 2.0's manifest, config and own layer; the base layer is 1.0's too.
    const own = v2.manifest.size + v2.config.size + v2.layers[1].size;
    assert.equal(await dialog.locator('[data-testid="delete-reclaimable"]').textContent(), `${(own / 1024).toFixed(0)} KiB`);
    await screenshot(page, "33-delete-tag");
    await page.locator('[data-testid="delete-confirm"]').click();
    await page.locator(".toast.success").filter({ hasText: "Deleted tag 2.0" }).waitFor();
    await waitFor("one tag left", async () => (await page.locator('[data-testid="tag-row"]').count()) === 1);
    const tags = await api(stack.baseUrl, "repositoryTags", { name: "team/app" });
    assert.deepEqual(tags.tags.map((/** @type {any} */ t) => t.tag), ["1.0"]);
  });

  test("the disk page: volumes, usage, history, and Reclaim space after a dry run", async () => {
    // Age the store's blobs past the one-hour grace period, as a store in use for a while is.
    const blobs = join(stack.dirs.registry, "docker/registry/v2/blobs");
    const old = new Date(Date.now() - 3 * 3600 * 1000);
    for (const f of filesUnder(blobs)) utimesSync(f, old, old);

    await open("disk");
    const registryVolume = page.locator('[data-testid="volume"][data-registry="true"]');
    await registryVolume.waitFor();
    const volumes = await api(stack.baseUrl, "diskVolumes");
    const mine = volumes.volumes.find((/** @type {any} */ v) => v.holdsRegistry);
    assert.equal(await registryVolume.getAttribute("data-mount"), mine.mountPoint);
    assert.ok(statSync(mine.mountPoint).isDirectory());
    await page.locator('[data-testid="usage-row"]').first().waitFor({ timeout: 30000 });
    assert.deepEqual(
      await page.locator('[data-testid="usage-row"]').evaluateAll((r) => r.map((e) => e.getAttribute("data-name"))).then((n) => [...n].sort()),
      ["team/app", "team/web", "tools/cli"],
    );
    // Sorting by name: A to Z, then Z to A.
    await page.click('[data-testid="sort-name"]');
    assert.equal(await page.locator('[data-testid="usage-row"]').first().getAttribute("data-name"), "team/app");
    await page.click('[data-testid="sort-name"]');
    assert.equal(await page.locator('[data-testid="usage-row"]').first().getAttribute("data-name"), "tools/cli");
    assert.equal(await page.locator('[data-testid="treemap"] .cell').count(), 3);

    // Reclaim space: the dry run first, with untagged manifests (2.0's).
    await page.click('[data-testid="reclaim-open"]');
    const dialog = page.locator('[data-testid="reclaim-dialog"]');
    await dialog.locator('[data-testid="reclaim-dry-run"]').waitFor({ timeout: 30000 });
    await dialog.locator('[data-testid="reclaim-untagged"]').check();
    await waitFor("the dry run with untagged manifests", async () => {
      const t = await dialog.locator('[data-testid="reclaim-blobs"]').textContent().catch(() => "");
      return t && !t.startsWith("0 ");
    }, 30000);
    const expected = await api(stack.baseUrl, "gcRun", { dryRun: true, deleteUntagged: true });
    assert.ok(expected.blobsSwept >= 2, JSON.stringify(expected));
    assert.equal(await dialog.locator('[data-testid="reclaim-blobs"]').textContent(), `${expected.blobsSwept} blobs`);
    await screenshot(page, "34-reclaim-dry-run");
    const layerFile = join(blobs, "sha256", v2.layers[1].digest.slice(7, 9), v2.layers[1].digest.slice(7), "data");
    assert.ok(existsSync(layerFile), "the dry run deleted nothing");
    await page.click('[data-testid="reclaim-run"]');
    await page.locator(".toast.success").filter({ hasText: "Freed" }).waitFor({ timeout: 60000 });
    assert.ok(!existsSync(layerFile), "2.0's own layer is gone");
    const baseFile = join(blobs, "sha256", v1.layers[0].digest.slice(7, 9), v1.layers[0].digest.slice(7), "data");
    assert.ok(existsSync(baseFile), "the shared base layer stays");

    // The history has samples from before and after: the chart is drawn.
    await open("disk");
    await page.locator('[data-testid="line-chart"] path.line').waitFor({ timeout: 30000 });
    await page.locator('[data-testid="usage-row"]').first().waitFor();
    await dismissToasts();
    await screenshot(page, "35-disk", "disk");
  });

  test("a low-space warning under the admin's threshold, on the page and in the log", async () => {
    await open("disk");
    await page.locator('[data-testid="volume"][data-registry="true"]').waitFor();
    const mine = (await api(stack.baseUrl, "diskVolumes")).volumes.find((/** @type {any} */ v) => v.holdsRegistry);
    const over = Math.min(99, 100 - mine.usedPercent + 1);
    await page.fill('[data-testid="threshold-input"]', String(over));
    await page.click('[data-testid="threshold-save"]');
    await page.locator('[data-testid="disk-warning"]').waitFor();
    assert.match((await page.locator('[data-testid="disk-warning"]').textContent()) ?? "", new RegExp(`${100 - mine.usedPercent}% free`));
    await dismissToasts();
    await screenshot(page, "36-disk-warning");
    const logs = await api(stack.baseUrl, "logs", { level: "warn" });
    assert.ok(logs.lines.some((/** @type {any} */ l) => l.text.includes(`under the ${over}% threshold`)), JSON.stringify(logs.lines.slice(-5)));
    await page.fill('[data-testid="threshold-input"]', "10");
    await page.click('[data-testid="threshold-save"]');
    await page.locator('[data-testid="disk-warning"]').waitFor({ state: "detached" });
  });
});
