//! OCI image layouts built on disk by the tests, with known layers and digests.
