//! OCI image layouts built on disk by the tests, with known layers and digests.
//!
//! An [`OciLayout`] is the directory skopeo's `oci:` transport reads and
//! writes (`oci-layout`, `index.json`, `blobs/sha256/<hex>`). Tests build
//! images into one from a seed, so the same seed always gives the same bytes
//! and digests, push them with skopeo, pull them back into a fresh layout and
//! compare digests.
//!
//! ```no_run
//! use berth_e2e::image::{LayerSpec, OciLayout, Platform};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let layout = OciLayout::create(dir.path());
//! let image = layout.add_image(
//!     "v1",
//!     Platform::LINUX_AMD64,
//!     &[LayerSpec::new(1, 4096), LayerSpec::new(2, 1 << 20)],
//! );
//! assert!(layout.verify_blob(&image.manifest.digest));
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::media_type::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};
use crate::api::{self, Descriptor, sha256_of_reader};

/// One KiB, for layer sizes.
pub const KIB: u64 = 1024;
/// One MiB, for layer sizes.
pub const MIB: u64 = 1024 * KIB;

/// The annotation that names a tag in a layout's `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `sha256:<hex>` of a file's content, read in a stream.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_of_reader(File::open(path)?).map(|(digest, _)| digest)
}

/// The hex part of a `sha256:<hex>` digest; panics on any other algorithm.
pub fn digest_hex(digest: &str) -> &str {
    digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"))
}

/// An OS/architecture pair an image is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `architecture` in the config and index (`amd64`, `arm64`, `arm`).
    pub architecture: &'static str,
    /// `os` in the config and index.
    pub os: &'static str,
    /// `variant` (`v7` for 32-bit ARM), when there is one.
    pub variant: Option<&'static str>,
}

impl Platform {
    /// linux/amd64.
    pub const LINUX_AMD64: Platform = Platform {
        architecture: "amd64",
        os: "linux",
        variant: None,
    };
    /// linux/arm64.
    pub const LINUX_ARM64: Platform = Platform {
        architecture: "arm64",
        os: "linux",
        variant: None,
    };
    /// linux/arm/v7.
    pub const LINUX_ARM_V7: Platform = Platform {
        architecture: "arm",
        os: "linux",
        variant: Some("v7"),
    };

    fn to_json(self) -> Value {
        let mut platform = json!({ "architecture": self.architecture, "os": self.os });
        if let Some(variant) = self.variant {
            platform["variant"] = json!(variant);
        }
        platform
    }
}

/// A layer to build: a tar archive holding `size` pseudo-random bytes drawn
/// from `seed`, gzip-compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// Seeds the content; equal specs give byte-identical layers.
    pub seed: u64,
    /// Bytes of file content in the layer, before tar framing and gzip.
    pub size: u64,
}

impl LayerSpec {
    /// A layer of `size` content bytes drawn from `seed`.
    pub fn new(seed: u64, size: u64) -> LayerSpec {
        LayerSpec { seed, size }
    }
}

/// A layer written into a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The compressed blob as the manifest lists it.
    pub descriptor: Descriptor,
    /// `sha256:<hex>` of the uncompressed tar, as the config's `rootfs.diff_ids` lists it.
    pub diff_id: String,
}

/// A single-platform image written into a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The platform in its config.
    pub platform: Platform,
    /// The OCI image manifest.
    pub manifest: Descriptor,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Layer>,
}

impl Image {
    /// Digests of every blob the manifest references: config, then layers.
    pub fn blob_digests(&self) -> Vec<String> {
        std::iter::once(self.config.digest.clone())
            .chain(self.layers.iter().map(|l| l.descriptor.digest.clone()))
            .collect()
    }

    /// Every descriptor the manifest references: config, then layers.
    pub fn blobs(&self) -> Vec<Descriptor> {
        std::iter::once(self.config.clone())
            .chain(self.layers.iter().map(|l| l.descriptor.clone()))
            .collect()
    }
}

/// A multi-platform image index written into a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    /// The OCI image index.
    pub descriptor: Descriptor,
    /// One image per platform, in the index's order.
    pub images: Vec<Image>,
}

impl Index {
    /// Digests of every blob under the index (configs and layers), without
    /// duplicates, in first-seen order.
    pub fn blob_digests(&self) -> Vec<String> {
        let mut all = Vec::new();
        for digest in self.images.iter().flat_map(Image::blob_digests) {
            if !all.contains(&digest) {
                all.push(digest);
            }
        }
        all
    }
}

/// An OCI image layout directory.
#[derive(Clone, Debug)]
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    /// Creates an empty layout in `dir` (created when missing).
    pub fn create(dir: impl Into<PathBuf>) -> OciLayout {
        let dir = dir.into();
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        let layout = OciLayout { dir };
        layout.write_index_json(&json!({ "schemaVersion": 2, "manifests": [] }));
        layout
    }

    /// Opens a layout someone else wrote (skopeo, after a pull).
    pub fn open(dir: impl Into<PathBuf>) -> OciLayout {
        OciLayout { dir: dir.into() }
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The skopeo reference to `tag` in this layout: `oci:DIR:tag`.
    pub fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    /// Where the blob `digest` lives in the layout.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest_hex(digest))
    }

    /// The bytes of blob `digest`; panics when it is missing.
    pub fn read_blob(&self, digest: &str) -> Vec<u8> {
        let path = self.blob_path(digest);
        std::fs::read(&path).unwrap_or_else(|e| panic!("read blob {}: {e}", path.display()))
    }

    /// True when blob `digest` is present and its content hashes to `digest`.
    pub fn verify_blob(&self, digest: &str) -> bool {
        sha256_file(&self.blob_path(digest)).is_ok_and(|actual| actual == digest)
    }

    /// Panics unless `tag` names exactly `image` here: the same manifest
    /// digest, and the manifest and every blob present with content that
    /// hashes to its digest.
    pub fn assert_holds_image(&self, tag: &str, image: &Image) {
        self.assert_tagged(tag, &image.manifest.digest, "manifest");
        self.assert_blobs(&image.manifest.digest, &image.blobs());
    }

    /// Panics unless `tag` names exactly `index` here: the same index digest,
    /// and every platform's manifest and blobs present and intact.
    pub fn assert_holds_index(&self, tag: &str, index: &Index) {
        self.assert_tagged(tag, &index.descriptor.digest, "index");
        assert!(
            self.verify_blob(&index.descriptor.digest),
            "index {} missing or corrupt",
            index.descriptor.digest
        );
        for image in &index.images {
            self.assert_blobs(&image.manifest.digest, &image.blobs());
        }
    }

    /// Panics unless `tag` names `digest` (of a `what`: manifest, index).
    fn assert_tagged(&self, tag: &str, digest: &str, what: &str) {
        let tagged = self
            .tagged(tag)
            .unwrap_or_else(|| panic!("{} has no tag {tag}", self.dir.display()));
        assert_eq!(
            tagged.digest, digest,
            "{what} digest of {tag} changed on the way"
        );
    }

    fn assert_blobs(&self, manifest: &str, blobs: &[Descriptor]) {
        assert!(
            self.verify_blob(manifest),
            "manifest {manifest} missing or corrupt in {}",
            self.dir.display()
        );
        for blob in blobs {
            assert!(
                self.verify_blob(&blob.digest),
                "blob {} ({}, {} bytes) of manifest {manifest} missing or corrupt in {}",
                blob.digest,
                blob.media_type,
                blob.size,
                self.dir.display()
            );
        }
    }

    /// The descriptor `index.json` holds for `tag`, if any.
    pub fn tagged(&self, tag: &str) -> Option<Descriptor> {
        let index: Value = serde_json::from_slice(
            &std::fs::read(self.dir.join("index.json")).expect("read index.json"),
        )
        .expect("index.json is JSON");
        index["manifests"]
            .as_array()?
            .iter()
            .find(|m| m["annotations"][REF_NAME] == tag)
            .map(|m| Descriptor {
                media_type: m["mediaType"].as_str().unwrap_or_default().to_owned(),
                digest: m["digest"].as_str().expect("descriptor digest").to_owned(),
                size: m["size"].as_u64().expect("descriptor size"),
            })
    }

    /// Writes `bytes` as a blob and returns its descriptor.
    pub fn write_blob(&self, media_type: &str, bytes: &[u8]) -> Descriptor {
        let descriptor = Descriptor::of(media_type, bytes);
        std::fs::write(self.blob_path(&descriptor.digest), bytes).expect("write blob");
        descriptor
    }

    /// Builds the layer `spec` describes: a tar holding a directory, a small
    /// text file naming the seed and `payload.bin` with the random content,
    /// gzip-compressed. Streams, so large layers never sit in memory.
    pub fn write_layer(&self, spec: LayerSpec) -> Layer {
        let blobs = self.dir.join("blobs/sha256");
        let staging = tempfile::NamedTempFile::new_in(&blobs).expect("staging file for a layer");
        let compressed = HashingWriter::new(BufWriter::with_capacity(
            1 << 20,
            staging.reopen().expect("reopen staging file"),
        ));
        // Fast compression: the payload is random and won't shrink anyway,
        // and large layers should not dominate a test's time.
        let gzip = GzEncoder::new(compressed, Compression::fast());
        let mut tar = tar::Builder::new(HashingWriter::new(gzip));
        let dir = format!("layer-{}", spec.seed);
        let note = format!("berth e2e layer, seed {}, {} bytes\n", spec.seed, spec.size);
        append(
            &mut tar,
            tar::EntryType::Directory,
            &format!("{dir}/"),
            0,
            io::empty(),
        );
        append(
            &mut tar,
            tar::EntryType::Regular,
            &format!("{dir}/seed.txt"),
            note.len() as u64,
            note.as_bytes(),
        );
        append(
            &mut tar,
            tar::EntryType::Regular,
            &format!("{dir}/payload.bin"),
            spec.size,
            RandomReader::new(spec.seed, spec.size),
        );
        let (gzip, diff_id, _) = tar.into_inner().expect("finish tar").finish();
        let (buffered, digest, size) = gzip.finish().expect("finish gzip").finish();
        buffered
            .into_inner()
            .map_err(|e| e.into_error())
            .expect("flush layer");
        staging
            .persist(self.blob_path(&digest))
            .expect("move layer into place");
        Layer {
            descriptor: Descriptor::new(OCI_LAYER_GZIP, &digest, size),
            diff_id,
        }
    }

    /// Builds an image for `platform` from `layers` (base first), with a
    /// config and an OCI manifest, without tagging it.
    pub fn write_image(&self, platform: Platform, layers: &[LayerSpec]) -> Image {
        let layers: Vec<Layer> = layers.iter().map(|spec| self.write_layer(*spec)).collect();
        let layer_digests: Vec<String> =
            layers.iter().map(|l| l.descriptor.digest.clone()).collect();
        let mut config = json!({
            "architecture": platform.architecture,
            "os": platform.os,
            "config": {
                "Cmd": ["/bin/true"],
                "Labels": { "org.berth.e2e.layers": layer_digests.join(",") },
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "history": layers.iter().map(|_| json!({ "created_by": "berth e2e" })).collect::<Vec<_>>(),
        });
        if let Some(variant) = platform.variant {
            config["variant"] = json!(variant);
        }
        let config = self.write_blob(OCI_CONFIG, &serde_json::to_vec(&config).expect("config"));
        let descriptors: Vec<Descriptor> = layers.iter().map(|l| l.descriptor.clone()).collect();
        let manifest = api::oci_manifest(&config, &descriptors);
        let manifest = self.write_blob(
            OCI_MANIFEST,
            &serde_json::to_vec(&manifest).expect("manifest"),
        );
        Image {
            platform,
            manifest,
            config,
            layers,
        }
    }

    /// Builds an image (see [`OciLayout::write_image`]) and tags it.
    pub fn add_image(&self, tag: &str, platform: Platform, layers: &[LayerSpec]) -> Image {
        let image = self.write_image(platform, layers);
        self.tag(tag, &image.manifest);
        image
    }

    /// Builds a multi-platform index and tags it: every platform's image has
    /// the same base layer (`base`) plus one layer of its own (`own_size`
    /// bytes, seeded from `seed` and the platform's position).
    pub fn add_index(
        &self,
        tag: &str,
        platforms: &[Platform],
        base: LayerSpec,
        seed: u64,
        own_size: u64,
    ) -> Index {
        let images: Vec<Image> = platforms
            .iter()
            .enumerate()
            .map(|(i, platform)| {
                let own = LayerSpec::new(seed.wrapping_add(i as u64 + 1), own_size);
                self.write_image(*platform, &[base, own])
            })
            .collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": images.iter().map(|image| {
                let mut entry = image.manifest.to_json();
                entry["platform"] = image.platform.to_json();
                entry
            }).collect::<Vec<_>>(),
        });
        let descriptor = self.write_blob(OCI_INDEX, &serde_json::to_vec(&index).expect("index"));
        self.tag(tag, &descriptor);
        Index { descriptor, images }
    }

    /// Points `tag` at `descriptor` in `index.json`, replacing an older entry.
    pub fn tag(&self, tag: &str, descriptor: &Descriptor) {
        let path = self.dir.join("index.json");
        let mut index: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read index.json"))
                .expect("index.json is JSON");
        let manifests = index["manifests"]
            .as_array_mut()
            .expect("index.json has manifests");
        manifests.retain(|m| m["annotations"][REF_NAME] != tag);
        let mut entry = descriptor.to_json();
        entry["annotations"] = json!({ REF_NAME: tag });
        manifests.push(entry);
        self.write_index_json(&index);
    }

    fn write_index_json(&self, index: &Value) {
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(index).expect("index.json"),
        )
        .expect("write index.json");
    }
}

/// Appends one entry with a fixed owner, mode and time, so layers built from
/// the same seed are byte-identical on every machine.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    kind: tar::EntryType,
    path: &str,
    size: u64,
    data: impl Read,
) {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_path(path).expect("tar path");
    header.set_size(size);
    header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    tar.append(&header, data).expect("append tar entry");
}

/// `len` pseudo-random bytes drawn from `seed`, as a stream: the same on
/// every platform and every run, and never all in memory. Layers draw their
/// content from it; tests use it to stream a large blob straight to a
/// registry.
///
/// The content is a 1 MiB ChaCha8 block drawn from the seed, repeated, with
/// each repetition stamped with the seed and its position. That keeps large
/// blobs cheap to make in an unoptimised test build (copying, not generating),
/// yet unique per seed and incompressible: gzip's window is 32 KiB, far
/// shorter than the repetition.
pub struct RandomReader {
    block: Vec<u8>,
    position: u64,
    len: u64,
}

/// `len` bytes drawn from `seed`: small blobs that differ for every seed.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// Length of the repeated block in [`RandomReader`].
const RANDOM_BLOCK: usize = 1 << 20;

impl RandomReader {
    /// The `len` bytes drawn from `seed`.
    pub fn new(seed: u64, len: u64) -> RandomReader {
        let mut block = vec![0; RANDOM_BLOCK];
        ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut block);
        block[..8].copy_from_slice(&seed.to_le_bytes());
        RandomReader {
            block,
            position: 0,
            len,
        }
    }
}

impl Read for RandomReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.len - self.position;
        let offset = (self.position % RANDOM_BLOCK as u64) as usize;
        let n = buf
            .len()
            .min(RANDOM_BLOCK - offset)
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[offset..offset + n]);
        // Stamp each repetition with its number, right after the seed.
        let repetition = (self.position / RANDOM_BLOCK as u64).to_le_bytes();
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            let at = offset + i;
            if (8..16).contains(&at) {
                *byte = repetition[at - 8];
            } else if at >= 16 {
                break;
            }
        }
        self.position += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// The inner writer, the `sha256:<hex>` digest and the byte count.
    fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.written)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sha256_digest;

    #[test]
    fn random_reader_is_deterministic_and_hashes_like_its_bytes() {
        let mut bytes = Vec::new();
        RandomReader::new(7, 3 << 20)
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), 3 << 20);
        let (digest, len) = sha256_of_reader(RandomReader::new(7, 3 << 20)).unwrap();
        assert_eq!((digest, len), (sha256_digest(&bytes), 3 << 20));
        assert_ne!(bytes[..1 << 20], bytes[1 << 20..2 << 20]);
    }
}
