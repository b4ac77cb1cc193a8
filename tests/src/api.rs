//! Blocking helpers for the OCI Distribution HTTP API: digests, blob pushes, manifests.
