//! Why AWS denied a request, judged against the account's configuration: the pure evaluator.
//!
//! [`Request`] is rebuilt from a CloudTrail event; [`Snapshot`] holds what the account's policies and
//! S3 settings were (each item possibly not visible); [`evaluate`] decides as AWS documents it and
//! names the deciding statement. No AWS calls here: fetching belongs to the binary.

mod eval;
mod render;
mod request;
mod snapshot;
mod statement;

pub use eval::{Decision, Missing, PolicyKind, PolicyRef, Setting, StatementRef, evaluate};
pub use render::{confirmed_by, pretty_statement};
pub use request::{Caller, CallerKind, CtxValue, Request, Wants, kms_account, s3_action};
pub use snapshot::{
    AccountOrg, AclGrant, BucketConfig, DefaultEncryption, KmsKeyConfig, NotVisibleReason, ObjectOwnership, OrgLevel,
    Policy, PrincipalConfig, PublicAccessBlock, Snapshot, Visibility, VpcEndpointConfig,
};
pub use statement::{Applies, ConditionCheck, Effect, Grantee};
