//! The skopeo client, run as a process against a registry.
