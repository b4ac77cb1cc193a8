//! Read-only service SAS URLs for blobs: signed with the account key, or
//! with a user delegation key when the driver uses Entra ID tokens (as
//! Distribution does).

use std::time::Duration;

use azure_core::auth::Secret;
use azure_storage::shared_access_signature::SasProtocol;
use azure_storage::shared_access_signature::service_sas::{
    BlobSasPermissions, BlobSharedAccessSignature, BlobSignedResource, SasKey, UserDeligationKey,
};
use azure_storage_blobs::prelude::{BlobClient, BlobServiceClient};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::config::{Credentials, Settings};

/// How long a redirect URL stays valid.
pub const REDIRECT_LIFETIME: Duration = Duration::from_secs(20 * 60);

/// How long a user delegation key is asked for, and how long before its end
/// a new one is fetched (Distribution's values).
const DELEGATION_LIFETIME: Duration = Duration::from_secs(48 * 3600);
const DELEGATION_GRACE: Duration = Duration::from_secs(30 * 60);

/// Signs blob URLs.
#[derive(Debug)]
pub struct Signer {
    account: String,
    https_only: bool,
    key: SignerKey,
}

#[derive(Debug)]
enum SignerKey {
    Shared(Secret),
    Delegation(Mutex<Option<UserDeligationKey>>),
}

impl Signer {
    /// A signer for the driver's credentials.
    pub fn new(settings: &Settings) -> Signer {
        let key = match &settings.credentials {
            Credentials::SharedKey { key } => SignerKey::Shared(Secret::new(key.clone())),
            _ => SignerKey::Delegation(Mutex::new(None)),
        };
        Signer {
            account: settings.account.clone(),
            https_only: settings.service_url.starts_with("https://"),
            key,
        }
    }

    /// A URL that lets anyone read `blob` until `lifetime` from now.
    pub async fn read_url(
        &self,
        service: &BlobServiceClient,
        blob: &BlobClient,
        lifetime: Duration,
    ) -> azure_core::Result<url::Url> {
        let now = OffsetDateTime::now_utc();
        let expiry = now + lifetime;
        let key: SasKey = match &self.key {
            SignerKey::Shared(secret) => secret.clone().into(),
            SignerKey::Delegation(cache) => delegation_key(cache, service, now).await?.into(),
        };
        let resource = format!(
            "/blob/{}/{}/{}",
            self.account,
            blob.container_client().container_name(),
            blob.blob_name()
        );
        let permissions = BlobSasPermissions {
            read: true,
            ..Default::default()
        };
        let mut sas = BlobSharedAccessSignature::new(
            key,
            resource,
            permissions,
            expiry,
            BlobSignedResource::Blob,
        )
        // Tolerate clocks a little behind ours.
        .start(now - Duration::from_secs(10));
        if self.https_only {
            sas = sas.protocol(SasProtocol::Https);
        }
        blob.generate_signed_blob_url(&sas)
    }
}

async fn delegation_key(
    cache: &Mutex<Option<UserDeligationKey>>,
    service: &BlobServiceClient,
    now: OffsetDateTime,
) -> azure_core::Result<UserDeligationKey> {
    let mut cached = cache.lock().await;
    if let Some(key) = cached
        .as_ref()
        .filter(|k| k.signed_expiry - now > DELEGATION_GRACE)
    {
        return Ok(key.clone());
    }
    let start = now - Duration::from_secs(10);
    let response = service
        .get_user_deligation_key(start, start + DELEGATION_LIFETIME)
        .await?;
    let key = response.user_deligation_key;
    *cached = Some(key.clone());
    Ok(key)
}
