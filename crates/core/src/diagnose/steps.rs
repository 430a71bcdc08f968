//! The "check next" column of causes.md §3: commands filled in with the group's own principal ARN
//! (the role ARN for sessions), bucket, sample key, accounts, KMS key and VPC endpoint.
//!
//! Every value from a log is shell-quoted when it holds anything unusual ([`sh`]), so a pasted
//! command never runs what a log author chose. Unknown values stay as `<placeholders>`.

use crate::event::{Event, role_arn_from_session_arn};

use super::message::starts_with_ci;
use super::rules::EventCtx;
use super::text::{iam_name, partition, sh};
use crate::event::is_account_id;

/// The values a group's commands are filled with.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fill {
    /// The principal to simulate: the role ARN for sessions, else the user's ARN.
    pub principal_arn: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub caller_account: Option<String>,
    pub owner_account: Option<String>,
    pub region: Option<String>,
    /// The KMS key: a key ARN when one is known, else an id or alias.
    pub kms_key: Option<String>,
    pub vpce: Option<String>,
    /// (account, name) of the access point.
    pub access_point: Option<(String, String)>,
    /// `p-…` ids from the policy-ARN suffix of the messages.
    pub org_policy_ids: Vec<String>,
    /// The eventID of the policy change that `recent-policy-change` names.
    pub change_event_id: Option<String>,
    /// The S3 action to simulate: the one the message names, else s3:PutObject.
    pub s3_action: Option<String>,
}

impl Fill {
    pub(crate) fn new(ctxs: &[EventCtx<'_>]) -> Self {
        let first = |f: &dyn Fn(&EventCtx<'_>) -> Option<String>| ctxs.iter().find_map(f);
        let kms_key = {
            let candidates: Vec<String> = ctxs
                .iter()
                .flat_map(|c| {
                    [
                        c.msg.resource.filter(|_| c.msg.is_kms()).map(str::to_string),
                        c.kms.and_then(|k| k.event.kms_key_arn.clone()),
                        c.ev.sse_kms_key_id.clone(),
                    ]
                })
                .flatten()
                .filter(|k| !k.is_empty())
                .collect();
            // Prefer a full key ARN over an id or alias.
            candidates.iter().find(|k| k.starts_with("arn:") && k.contains(":key/")).or(candidates.first()).cloned()
        };
        let mut org_policy_ids: Vec<String> = ctxs
            .iter()
            .filter_map(|c| c.msg.policy_arn)
            .filter_map(|arn| arn.rsplit('/').next())
            .filter(|id| id.starts_with("p-"))
            .map(str::to_string)
            .collect();
        org_policy_ids.dedup();
        Fill {
            principal_arn: first(&|c| principal_arn(c.ev).or_else(|| c.msg.principal.map(role_or_self))),
            bucket: first(&|c| c.ev.bucket.clone().filter(|b| !b.is_empty())),
            key: first(&|c| c.ev.key.clone().filter(|k| !k.is_empty())),
            caller_account: first(&|c| c.ev.account.clone().filter(|a| is_account_id(a))),
            owner_account: first(&|c| c.owner.map(|(o, _)| o.to_string())),
            region: first(&|c| c.ev.aws_region.clone().filter(|r| !r.is_empty())),
            kms_key,
            vpce: first(&|c| {
                c.ev.vpc_endpoint_id
                    .clone()
                    .or_else(|| c.vpce.and_then(|v| v.vpc_endpoint_id.clone()))
                    .filter(|v| !v.is_empty())
            }),
            access_point: ctxs.iter().find_map(|c| access_point_of(c.ev)),
            org_policy_ids,
            change_event_id: first(&|c| c.change.map(|(e, _)| e.event_id.clone())),
            s3_action: first(&|c| c.msg.s3_action().map(str::to_string)),
        }
    }

    fn arn(&self) -> String {
        self.principal_arn.as_deref().map_or_else(|| "<principal-arn>".to_string(), |a| sh(a).into_owned())
    }

    fn bucket(&self) -> String {
        self.bucket.as_deref().map_or_else(|| "<bucket>".to_string(), |b| sh(b).into_owned())
    }

    /// The sample object's ARN, in the principal's partition.
    fn object_arn(&self) -> String {
        let p = self.principal_arn.as_deref().and_then(partition).unwrap_or("aws");
        let bucket = self.bucket.as_deref().unwrap_or("<bucket>");
        let key = self.key.as_deref().unwrap_or("<key>");
        sh(&format!("arn:{p}:s3:::{bucket}/{key}")).into_owned()
    }

    fn kms_key(&self) -> String {
        self.kms_key.as_deref().map_or_else(|| "<kms-key-id>".to_string(), |k| sh(k).into_owned())
    }

    fn account(value: Option<&str>) -> String {
        value.map_or_else(|| "<account-id>".to_string(), |a| sh(a).into_owned())
    }
}

/// The principal behind an event: the role ARN for sessions, else the identity ARN.
pub(crate) fn principal_arn(ev: &Event) -> Option<String> {
    ev.principal_arn()
        .filter(|a| !a.is_empty())
        .map(role_or_self)
        .or_else(|| ev.principal.starts_with("arn:").then(|| role_or_self(&ev.principal)))
}

fn role_or_self(arn: &str) -> String {
    role_arn_from_session_arn(arn).unwrap_or_else(|| arn.to_string())
}

/// (account, name) from an access-point ARN or an `<name>-<account>.s3-accesspoint.…` host.
fn access_point_of(ev: &Event) -> Option<(String, String)> {
    if let Some(arn) = ev.access_point_arn.as_deref() {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if let [_, _, _, _, account, resource] = parts.as_slice()
            && let Some(name) = resource.strip_prefix("accesspoint/")
        {
            return Some((account.to_string(), name.to_string()));
        }
    }
    let host = ev.host.as_deref()?;
    let label = host.split('.').next()?;
    let (name, account) = label.rsplit_once('-')?;
    (is_account_id(account) && !name.is_empty()).then(|| (account.to_string(), name.to_string()))
}

pub(crate) fn simulate(f: &Fill) -> Vec<String> {
    let action = f.s3_action.as_deref().unwrap_or("s3:PutObject");
    vec![format!(
        "aws iam simulate-principal-policy --policy-source-arn {} --action-names {} --resource-arns {}",
        f.arn(),
        sh(action),
        f.object_arn()
    )]
}

fn get_bucket_policy(f: &Fill) -> String {
    format!("aws s3api get-bucket-policy --bucket {} --query Policy --output text", f.bucket())
}

fn get_bucket_pab(f: &Fill) -> String {
    format!("aws s3api get-public-access-block --bucket {}", f.bucket())
}

fn get_bucket_encryption(f: &Fill) -> String {
    format!("aws s3api get-bucket-encryption --bucket {}", f.bucket())
}

pub(crate) fn bucket_policy(f: &Fill) -> Vec<String> {
    vec![get_bucket_policy(f)]
}

pub(crate) fn bucket_policy_deny(f: &Fill) -> Vec<String> {
    vec![get_bucket_policy(f), get_bucket_pab(f)]
}

fn org_policies(f: &Fill, target: Option<&str>, filter: &str) -> Vec<String> {
    let mut out = vec![format!(
        "aws organizations list-policies-for-target --target-id {} --filter {filter}",
        Fill::account(target)
    )];
    for id in &f.org_policy_ids {
        out.push(format!("aws organizations describe-policy --policy-id {}", sh(id)));
    }
    out
}

pub(crate) fn scp(f: &Fill) -> Vec<String> {
    // SCPs apply to the caller's account.
    org_policies(f, f.caller_account.as_deref(), "SERVICE_CONTROL_POLICY")
}

pub(crate) fn rcp(f: &Fill) -> Vec<String> {
    // RCPs apply to the resource's account.
    org_policies(f, f.owner_account.as_deref().or(f.caller_account.as_deref()), "RESOURCE_CONTROL_POLICY")
}

pub(crate) fn vpce(f: &Fill) -> Vec<String> {
    match f.vpce.as_deref() {
        Some(id) => vec![format!(
            "aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {} --query VpcEndpoints[].PolicyDocument",
            sh(id)
        )],
        None => vec![format!(
            "aws ec2 describe-vpc-endpoints --filters Name=service-name,Values=com.amazonaws.{}.s3 --query VpcEndpoints[].[VpcEndpointId,PolicyDocument]",
            f.region.as_deref().map_or_else(|| "<region>".to_string(), |r| sh(r).into_owned())
        )],
    }
}

pub(crate) fn boundary(f: &Fill) -> Vec<String> {
    let arn = f.principal_arn.as_deref().unwrap_or("");
    let name = iam_name(arn).map_or_else(|| "<name>".to_string(), |n| sh(n).into_owned());
    if arn.contains(":user/") {
        vec![format!("aws iam get-user --user-name {name} --query User.PermissionsBoundary")]
    } else {
        vec![format!("aws iam get-role --role-name {name} --query Role.PermissionsBoundary")]
    }
}

pub(crate) fn session(f: &Fill) -> Vec<String> {
    vec![
        format!(
            "aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue={}",
            f.arn()
        ),
        format!(
            "aws iam simulate-custom-policy --policy-input-list file://session-policy.json --action-names {} --resource-arns {}",
            sh(f.s3_action.as_deref().unwrap_or("s3:PutObject")),
            f.object_arn()
        ),
    ]
}

pub(crate) fn kms(f: &Fill) -> Vec<String> {
    let mut out = Vec::new();
    match f.kms_key.as_deref() {
        // get-key-policy takes a key id or ARN, not an alias.
        Some(k) if k.contains("alias/") => out.push(format!("aws kms describe-key --key-id {}", sh(k))),
        _ => out.push(format!("aws kms get-key-policy --key-id {} --policy-name default", f.kms_key())),
    }
    out.push(get_bucket_encryption(f));
    if let (Some(_), Some(k)) = (&f.principal_arn, f.kms_key.as_deref().filter(|k| k.contains(":key/"))) {
        out.push(format!(
            "aws iam simulate-principal-policy --policy-source-arn {} --action-names kms:GenerateDataKey --resource-arns {}",
            f.arn(),
            sh(k)
        ));
    }
    out
}

pub(crate) fn kms_key(f: &Fill) -> Vec<String> {
    match f.kms_key.as_deref() {
        Some(k) => vec![format!("aws kms describe-key --key-id {}", sh(k))],
        None => vec![get_bucket_encryption(f), "aws kms describe-key --key-id <kms-key-id>".to_string()],
    }
}

pub(crate) fn kms_managed(f: &Fill) -> Vec<String> {
    vec![
        get_bucket_encryption(f),
        "aws kms describe-key --key-id alias/aws/s3 --query KeyMetadata.KeyManager".to_string(),
    ]
}

pub(crate) fn public_access_block(f: &Fill) -> Vec<String> {
    vec![
        get_bucket_pab(f),
        format!(
            "aws s3control get-public-access-block --account-id {}",
            Fill::account(f.owner_account.as_deref().or(f.caller_account.as_deref()))
        ),
    ]
}

pub(crate) fn ownership_controls(f: &Fill) -> Vec<String> {
    vec![format!("aws s3api get-bucket-ownership-controls --bucket {}", f.bucket())]
}

pub(crate) fn cross_account(f: &Fill) -> Vec<String> {
    let mut out = simulate(f);
    out.push(get_bucket_policy(f));
    out
}

pub(crate) fn sse_policy(f: &Fill) -> Vec<String> {
    vec![get_bucket_policy(f), get_bucket_encryption(f)]
}

pub(crate) fn bucket_encryption(f: &Fill) -> Vec<String> {
    vec![get_bucket_encryption(f)]
}

pub(crate) fn mfa(f: &Fill) -> Vec<String> {
    vec![
        get_bucket_policy(f),
        format!(
            "aws iam simulate-principal-policy --policy-source-arn {} --action-names s3:PutObject --resource-arns {} --context-entries ContextKeyName=aws:MultiFactorAuthPresent,ContextKeyValues=true,ContextKeyType=boolean",
            f.arn(),
            f.object_arn()
        ),
    ]
}

pub(crate) fn network(f: &Fill) -> Vec<String> {
    let mut out = vec![get_bucket_policy(f)];
    if f.vpce.is_some() {
        out.extend(vpce(f));
    }
    out
}

pub(crate) fn bucket_owner(f: &Fill) -> Vec<String> {
    vec![format!("aws s3api get-bucket-acl --bucket {} --query Owner", f.bucket())]
}

pub(crate) fn object_lock(f: &Fill) -> Vec<String> {
    vec![
        format!("aws s3api get-object-lock-configuration --bucket {}", f.bucket()),
        format!(
            "aws iam simulate-principal-policy --policy-source-arn {} --action-names s3:PutObjectRetention s3:PutObjectLegalHold --resource-arns {}",
            f.arn(),
            f.object_arn()
        ),
    ]
}

pub(crate) fn requester_pays(f: &Fill) -> Vec<String> {
    vec![format!("aws s3api get-bucket-request-payment --bucket {}", f.bucket())]
}

pub(crate) fn access_point(f: &Fill) -> Vec<String> {
    let (account, name) = match &f.access_point {
        Some((a, n)) => (sh(a).into_owned(), sh(n).into_owned()),
        None => ("<account-id>".to_string(), "<access-point>".to_string()),
    };
    vec![
        format!("aws s3control get-access-point --account-id {account} --name {name}"),
        format!("aws s3control get-access-point-policy --account-id {account} --name {name}"),
    ]
}

pub(crate) fn policy_change(f: &Fill) -> Vec<String> {
    let id = f.change_event_id.as_deref().map_or_else(|| "<event-id>".to_string(), |i| sh(i).into_owned());
    vec![format!("aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue={id}")]
}

/// `unexplained`: the broad checks, most common causes first.
pub(crate) fn unexplained(f: &Fill) -> Vec<String> {
    let mut out = simulate(f);
    out.push(get_bucket_policy(f));
    out.push(get_bucket_pab(f));
    out.push(get_bucket_encryption(f));
    out
}

/// True when the value looks like an IAM user ARN (for wording in the explain view).
pub(crate) fn is_user_arn(arn: &str) -> bool {
    arn.contains(":user/") && starts_with_ci(arn, "arn:")
}
