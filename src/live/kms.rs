//! KMS: a key's policy (`GetKeyPolicy`) and state (`DescribeKey`), asked in the key's own region.

use denytrail_core::policy::{KmsKeyConfig, Visibility};

use super::{Ctx, document};

pub(crate) async fn key(ctx: &Ctx, arn: &str) -> KmsKeyConfig {
    let region = arn.split(':').nth(3).filter(|r| !r.is_empty());
    let config = aws_sdk_kms::config::Builder::from(&ctx.sdk).retry_config(Ctx::retry()).region(ctx.region(region));
    let client = aws_sdk_kms::Client::from_conf(config.build());
    let (mut key_state, mut key_manager) = (None, None);
    match ctx.call(client.describe_key().key_id(arn).send()).await {
        Ok(o) => {
            if let Some(m) = o.key_metadata() {
                key_state = m.key_state().map(|s| s.as_str().to_string());
                key_manager = m.key_manager().map(|s| s.as_str().to_string());
            }
        }
        Err(f) => return KmsKeyConfig { key_policy: f.not_visible(), key_state, key_manager },
    }
    let key_policy = match ctx.call(client.get_key_policy().key_id(arn).policy_name("default").send()).await {
        Ok(o) => match o.policy().map(|text| document(arn.to_string(), text)) {
            Some(Ok(p)) => Visibility::Visible(p),
            Some(Err(f)) => f.not_visible(),
            None => super::Failure::unreadable(arn).not_visible(),
        },
        Err(f) => f.not_visible(),
    };
    KmsKeyConfig { key_policy, key_state, key_manager }
}
