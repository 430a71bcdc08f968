//! Why AWS denied a request, judged against the account's configuration: the pure evaluator.
//!
//! [`Request`] is rebuilt from a CloudTrail event; [`Snapshot`] holds what the account's policies and
//! S3 settings were (each item possibly not visible). No AWS calls here: fetching belongs to the binary.

mod request;
mod snapshot;

pub use request::{Caller, CallerKind, CtxValue, Request, kms_account, s3_action};
pub use snapshot::{
    AccountOrg, AclGrant, BucketConfig, DefaultEncryption, KmsKeyConfig, NotVisibleReason, ObjectOwnership, OrgLevel,
    Policy, PrincipalConfig, PublicAccessBlock, Snapshot, Visibility, VpcEndpointConfig,
};
