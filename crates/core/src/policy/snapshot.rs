//! What the account looked like: the policies and settings a denied request is judged against.
//!
//! Filled by the live fetcher or read back from a `snapshot` file, so every type is plain serde data.
//! Anything that could not be read is kept as [`Visibility::NotVisible`] with the reason, so the
//! evaluation can say "cannot confirm" instead of guessing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Either what was read, or why it could not be.
///
/// `Visible(None)` (for the `Option` payloads) means "read, and there is none", e.g. a bucket with no
/// policy (`NoSuchBucketPolicy`): that is knowledge, not a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility<T> {
    Visible(T),
    NotVisible { reason: NotVisibleReason, detail: Option<String> },
}

impl<T> Visibility<T> {
    pub fn visible(&self) -> Option<&T> {
        match self {
            Visibility::Visible(t) => Some(t),
            Visibility::NotVisible { .. } => None,
        }
    }

    pub fn not_visible(reason: NotVisibleReason) -> Self {
        Visibility::NotVisible { reason, detail: None }
    }
}

impl<T> Default for Visibility<T> {
    /// Nothing was fetched: the honest default.
    fn default() -> Self {
        Visibility::not_visible(NotVisibleReason::NotFetched)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotVisibleReason {
    /// AccessDenied / UnauthorizedOperation on the read call.
    Refused,
    Throttled,
    /// The resource itself was not found (not "it has no policy": that is `Visible(None)`).
    NotFound,
    /// Not asked for (not in the snapshot, or outside the selectors).
    NotFetched,
    /// Any other failure (network, malformed answer).
    Error,
}

impl std::fmt::Display for NotVisibleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotVisibleReason::Refused => "refused",
            NotVisibleReason::Throttled => "throttled",
            NotVisibleReason::NotFound => "not found",
            NotVisibleReason::NotFetched => "not fetched",
            NotVisibleReason::Error => "error",
        })
    }
}

/// One policy document and what names it: an ARN for managed policies, SCPs and RCPs; a name for
/// inline policies (`role/dev:inline-s3`); the bucket / key ARN or endpoint id for resource policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    /// The JSON document as AWS returned it (URL-decoded).
    pub document: serde_json::Value,
}

impl Policy {
    pub fn new(id: impl Into<String>, document: serde_json::Value) -> Policy {
        Policy { id: id.into(), document }
    }
}

/// Everything denytrail knows about an account, keyed the way requests name things.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was read (ms since the epoch, UTC).
    pub taken_at_ms: Option<i64>,
    /// By bucket name.
    #[serde(default)]
    pub buckets: BTreeMap<String, BucketConfig>,
    /// By principal ARN: `arn:aws:iam::A:role/R` (the role behind a session) or `arn:aws:iam::A:user/U`.
    #[serde(default)]
    pub principals: BTreeMap<String, PrincipalConfig>,
    /// By key ARN (`arn:aws:kms:region:account:key/id`).
    #[serde(default)]
    pub kms_keys: BTreeMap<String, KmsKeyConfig>,
    /// By endpoint id (`vpce-…`).
    #[serde(default)]
    pub vpc_endpoints: BTreeMap<String, VpcEndpointConfig>,
    /// By account id: the organization policies that apply to it.
    #[serde(default)]
    pub accounts: BTreeMap<String, Visibility<AccountOrg>>,
    /// By the access key id the session was issued with (the `AssumeRole*` companion's response).
    /// No entry means no session policy is known to have been passed.
    #[serde(default)]
    pub sessions: BTreeMap<String, Visibility<Option<Policy>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketConfig {
    /// The bucket owner's account id.
    pub owner_account: Option<String>,
    #[serde(default)]
    pub policy: Visibility<Option<Policy>>,
    /// The bucket's own Block Public Access settings (`Visible(None)`: none configured).
    #[serde(default)]
    pub public_access_block: Visibility<Option<PublicAccessBlock>>,
    /// The owner account's Block Public Access settings (S3 Control).
    #[serde(default)]
    pub account_public_access_block: Visibility<Option<PublicAccessBlock>>,
    /// `Visible(None)`: no ownership controls (ACLs enabled, `ObjectWriter`).
    #[serde(default)]
    pub ownership: Visibility<Option<ObjectOwnership>>,
    #[serde(default)]
    pub default_encryption: Visibility<Option<DefaultEncryption>>,
    /// Grants in the bucket ACL (kept for the report; write grants are not evaluated).
    #[serde(default)]
    pub acl_grants: Visibility<Vec<AclGrant>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    BucketOwnerEnforced,
    BucketOwnerPreferred,
    ObjectWriter,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    pub kms_key_arn: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclGrant {
    /// Canonical id, group URI or e-mail as returned.
    pub grantee: String,
    pub permission: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrincipalConfig {
    /// Attached managed (default version) and inline policies of the role or user.
    #[serde(default)]
    pub identity_policies: Visibility<Vec<Policy>>,
    /// For users: the policies of their groups (`Visible(vec![])` for roles).
    #[serde(default = "visible_empty")]
    pub group_policies: Visibility<Vec<Policy>>,
    #[serde(default)]
    pub permissions_boundary: Visibility<Option<Policy>>,
    /// An `AWSReservedSSO_*` role: its policies come from an IAM Identity Center permission set.
    #[serde(default)]
    pub sso_reserved: bool,
}

fn visible_empty() -> Visibility<Vec<Policy>> {
    Visibility::Visible(Vec::new())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KmsKeyConfig {
    #[serde(default)]
    pub key_policy: Visibility<Policy>,
    /// `Enabled`, `Disabled`, `PendingDeletion`... (DescribeKey), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
    /// `CUSTOMER` or `AWS` (an AWS managed key's policy cannot be changed), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VpcEndpointConfig {
    /// `Visible(None)`: the default full-access endpoint policy.
    #[serde(default)]
    pub policy: Visibility<Option<Policy>>,
}

/// The organization view of one account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountOrg {
    /// `None`: not in an organization (then no SCP or RCP applies).
    pub org_id: Option<String>,
    /// The management account: SCPs and RCPs do not apply to it.
    #[serde(default)]
    pub management: bool,
    /// SCPs by level, root first, then each OU, then the account: every level must allow.
    #[serde(default)]
    pub scps: Vec<OrgLevel>,
    /// Resource control policies, likewise (they apply to resources the account owns).
    #[serde(default)]
    pub rcps: Vec<OrgLevel>,
}

/// The policies attached at one node of the organization tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgLevel {
    /// `r-…`, `ou-…` or the account id.
    pub target: String,
    pub policies: Vec<Policy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_survives_its_file() {
        let mut snap = Snapshot { taken_at_ms: Some(1_764_410_400_000), ..Snapshot::default() };
        snap.buckets.insert(
            "b".into(),
            BucketConfig {
                owner_account: Some("111122223333".into()),
                policy: Visibility::Visible(Some(Policy::new("arn:aws:s3:::b", serde_json::json!({"Statement": []})))),
                public_access_block: Visibility::Visible(None),
                account_public_access_block: Visibility::NotVisible {
                    reason: NotVisibleReason::Refused,
                    detail: Some("s3:GetAccountPublicAccessBlock".into()),
                },
                ownership: Visibility::Visible(Some(ObjectOwnership::BucketOwnerEnforced)),
                ..BucketConfig::default()
            },
        );
        snap.sessions.insert("ASIAEXAMPLE".into(), Visibility::not_visible(NotVisibleReason::NotFound));
        let text = serde_json::to_string(&snap).unwrap();
        assert!(text.contains(r#""account_public_access_block":{"not_visible":{"reason":"refused""#), "{text}");
        assert_eq!(serde_json::from_str::<Snapshot>(&text).unwrap(), snap);
        // Fields left out read as "not fetched", never as "none".
        let sparse: BucketConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(sparse.policy, Visibility::not_visible(NotVisibleReason::NotFetched));
    }
}
