//! S3: a bucket's policy, Block Public Access (the bucket's, and its owner account's through S3
//! Control), Object Ownership, default encryption and ACL.

use std::collections::HashMap;

use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use denytrail_core::policy::{
    AclGrant, BucketConfig, DefaultEncryption, NotVisibleReason, ObjectOwnership, PublicAccessBlock, Visibility,
};
use tokio::sync::{Mutex, OnceCell};

use super::{Ctx, Failure, document};

type AccountBlock = Visibility<Option<PublicAccessBlock>>;

pub(crate) struct S3 {
    control: aws_sdk_s3control::Client,
    /// The account-level Block Public Access, read once per account.
    accounts: Mutex<HashMap<String, std::sync::Arc<OnceCell<AccountBlock>>>>,
}

/// With `--endpoint-url`, S3 Control is asked at that URL as given: the SDK's rules would put the
/// account id in front of the host (`123456789012.host`), which a local S3-compatible server does
/// not answer (the same reason S3 itself is used path-style there).
#[derive(Debug)]
struct AsGiven(String);

impl ResolveEndpoint for AsGiven {
    fn resolve_endpoint<'a>(&'a self, _: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

impl S3 {
    pub fn new(ctx: &Ctx) -> S3 {
        let mut config =
            aws_sdk_s3control::config::Builder::from(&ctx.sdk).retry_config(Ctx::retry()).region(ctx.region(None));
        if let Some(url) = &ctx.opts.endpoint_url {
            config = config.endpoint_resolver(AsGiven(url.clone()));
        }
        S3 { control: aws_sdk_s3control::Client::from_conf(config.build()), accounts: Mutex::default() }
    }

    pub async fn bucket(&self, ctx: &Ctx, name: &str, owner: Option<String>) -> BucketConfig {
        let account_public_access_block = self.account_block(ctx, owner.as_deref()).await;
        ctx.count();
        let client = match crate::aws::s3_client_for(&ctx.sdk, &ctx.opts, name).await {
            Ok(c) => c,
            Err(p) => {
                let f = Failure::problem(&p);
                return BucketConfig {
                    owner_account: owner,
                    policy: f.not_visible(),
                    public_access_block: f.not_visible(),
                    account_public_access_block,
                    ownership: f.not_visible(),
                    default_encryption: f.not_visible(),
                    acl_grants: f.not_visible(),
                };
            }
        };
        let client = client.config().to_builder().retry_config(Ctx::retry()).build();
        let client = aws_sdk_s3::Client::from_conf(client);
        let arn = format!("arn:aws:s3:::{name}");

        let policy = match ctx.call(client.get_bucket_policy().bucket(name).send()).await {
            Ok(o) => match o.policy() {
                Some(text) => document(arn, text).map(Some),
                None => Ok(None),
            },
            Err(f) => none_if("NoSuchBucketPolicy", f),
        };
        let public_access_block = match ctx.call(client.get_public_access_block().bucket(name).send()).await {
            Ok(o) => Ok(o.public_access_block_configuration().map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })),
            Err(f) => none_if("NoSuchPublicAccessBlockConfiguration", f),
        };
        let ownership = match ctx.call(client.get_bucket_ownership_controls().bucket(name).send()).await {
            Ok(o) => Ok(o.ownership_controls().and_then(|c| c.rules().first()).and_then(|r| {
                match r.object_ownership().as_str() {
                    "BucketOwnerEnforced" => Some(ObjectOwnership::BucketOwnerEnforced),
                    "BucketOwnerPreferred" => Some(ObjectOwnership::BucketOwnerPreferred),
                    "ObjectWriter" => Some(ObjectOwnership::ObjectWriter),
                    _ => None,
                }
            })),
            Err(f) => none_if("OwnershipControlsNotFoundError", f),
        };
        let default_encryption = match ctx.call(client.get_bucket_encryption().bucket(name).send()).await {
            Ok(o) => Ok(o.server_side_encryption_configuration().and_then(|c| c.rules().first()).and_then(|r| {
                let d = r.apply_server_side_encryption_by_default()?;
                Some(DefaultEncryption {
                    algorithm: d.sse_algorithm().as_str().to_string(),
                    kms_key_arn: d.kms_master_key_id().map(str::to_string),
                    bucket_key_enabled: r.bucket_key_enabled().unwrap_or(false),
                })
            })),
            Err(f) => none_if("ServerSideEncryptionConfigurationNotFoundError", f),
        };
        let acl_grants = match ctx.call(client.get_bucket_acl().bucket(name).send()).await {
            Ok(o) => Ok(o
                .grants()
                .iter()
                .map(|g| AclGrant {
                    grantee: g
                        .grantee()
                        .and_then(|e| e.uri().or(e.id()).or(e.email_address()))
                        .unwrap_or_default()
                        .to_string(),
                    permission: g.permission().map(|p| p.as_str().to_string()).unwrap_or_default(),
                })
                .collect()),
            Err(f) => Err(f),
        };
        BucketConfig {
            owner_account: owner,
            policy: seen(policy),
            public_access_block: seen(public_access_block),
            account_public_access_block,
            ownership: seen(ownership),
            default_encryption: seen(default_encryption),
            acl_grants: seen(acl_grants),
        }
    }

    /// The owner account's Block Public Access (S3 Control), read once per account.
    async fn account_block(&self, ctx: &Ctx, owner: Option<&str>) -> Visibility<Option<PublicAccessBlock>> {
        let Some(account) = owner.or(ctx.own_account.as_deref()).map(str::to_string) else {
            return Visibility::NotVisible {
                reason: NotVisibleReason::NotFetched,
                detail: Some("the bucket owner's account is unknown".into()),
            };
        };
        if let Some(v) = ctx.foreign(Some(&account)) {
            return v;
        }
        let cell = self.accounts.lock().await.entry(account.clone()).or_default().clone();
        cell.get_or_init(|| async {
            match ctx.call(self.control.get_public_access_block().account_id(&account).send()).await {
                Ok(o) => Visibility::Visible(o.public_access_block_configuration().map(|c| PublicAccessBlock {
                    block_public_acls: c.block_public_acls().unwrap_or(false),
                    ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                    block_public_policy: c.block_public_policy().unwrap_or(false),
                    restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                })),
                Err(f) if f.code == "NoSuchPublicAccessBlockConfiguration" => Visibility::Visible(None),
                Err(f) => f.not_visible(),
            }
        })
        .await
        .clone()
    }
}

/// "There is none" (`NoSuchBucketPolicy`...) is an answer, not a gap.
fn none_if<T>(code: &str, f: Failure) -> Result<Option<T>, Failure> {
    if f.code == code { Ok(None) } else { Err(f) }
}

fn seen<T>(r: Result<T, Failure>) -> Visibility<T> {
    match r {
        Ok(v) => Visibility::Visible(v),
        Err(f) => f.not_visible(),
    }
}
