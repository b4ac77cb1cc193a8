#!/usr/bin/env python3
"""Writes a registry store in CNCF Distribution's layout, straight to disk,
for the du/gc benchmark (bench/gc-du.sh).

    bench/gen-store.py ROOT [--blobs 100000] [--repos 500] [--tags 16]

Each repository gets a base layer shared by its images; each image (one per
tag) a manifest, a config and six layers of its own; every fourth image is
pushed again under its tag, leaving an untagged manifest behind; what is
left of the blob count goes to orphan blobs nothing refers to. Blobs are
1-4 KiB of random bytes, so the tree is about 250 MB for 100,000 blobs.
Prints the counts as JSON.
"""

import argparse
import hashlib
import json
import os
import random

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--blobs", type=int, default=100_000)
    p.add_argument("--repos", type=int, default=500)
    p.add_argument("--tags", type=int, default=16)
    a = p.parse_args()
    v2 = os.path.join(a.root, "docker", "registry", "v2")
    rng = random.Random(42)
    made = {"blobs": 0, "bytes": 0, "manifests": 0, "orphans": 0}

    def put(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def blob(data):
        d = hashlib.sha256(data).hexdigest()
        path = os.path.join(v2, "blobs", "sha256", d[:2], d, "data")
        if not os.path.exists(path):
            put(path, data)
            made["blobs"] += 1
            made["bytes"] += len(data)
        return "sha256:" + d

    def link(path, digest):
        put(path, digest.encode())

    def random_blob():
        return rng.randbytes(rng.randint(1024, 4096))

    def image(repo, n):
        rdir = os.path.join(v2, "repositories", repo)
        base = base_of[repo]
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "n": n, "repo": repo}).encode()
        layers = [base] + [blob(random_blob()) for _ in range(6)]
        config = blob(cfg)
        for d in layers + [config]:
            link(os.path.join(rdir, "_layers", "sha256", d[7:], "link"), d)
        body = json.dumps({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": config, "size": len(cfg)},
            "layers": [{"mediaType": LAYER, "digest": d, "size": 2048} for d in layers],
        }).encode()
        m = blob(body)
        link(os.path.join(rdir, "_manifests", "revisions", "sha256", m[7:], "link"), m)
        made["manifests"] += 1
        return m

    base_of = {}
    for r in range(a.repos):
        repo = f"bench/r{r:04d}"
        base_of[repo] = blob(random_blob())
        rdir = os.path.join(v2, "repositories", repo)
        for t in range(a.tags):
            tag = f"v{t}"
            pushes = 2 if t % 4 == 0 else 1
            for n in range(pushes):
                m = image(repo, t * 10 + n)
                tdir = os.path.join(rdir, "_manifests", "tags", tag)
                link(os.path.join(tdir, "index", "sha256", m[7:], "link"), m)
                link(os.path.join(tdir, "current", "link"), m)
    while made["blobs"] < a.blobs:
        blob(random_blob())
        made["orphans"] += 1
    print(json.dumps(made))


if __name__ == "__main__":
    main()
