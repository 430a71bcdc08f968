//! The "check next" column of causes.md §3: commands filled in with the group's own principal ARN
//! (the role ARN for sessions), bucket, sample key, accounts, KMS key and VPC endpoint.
//!
//! Every value from a log is shell-quoted when it holds anything unusual ([`sh`]), so a pasted
//! command never runs what a log author chose. Unknown values stay as `<placeholders>`. Each
//! command says in which account it must run (the caller's, the bucket owner's, the key owner's,
//! the organization's management account); regional calls carry `--region`, and `--query`
//! expressions are quoted.

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
    /// The first errorCode other than AccessDenied.
    pub error_code: Option<String>,
    /// The x-amz-expected-bucket-owner the client sent.
    pub expected_owner: Option<String>,
    /// The account of the VPC endpoint.
    pub vpce_account: Option<String>,
    /// The trail account that logged the policy change.
    pub change_account: Option<String>,
    /// A Deny statement in the trail requires the SSE header (simulate with it as context).
    pub sse_condition: bool,
}

/// One command and the account it must run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub command: String,
    /// "the caller's account 111122223333", "the organization's management account", ...
    pub run_in: String,
}

fn step(command: String, run_in: String) -> Step {
    Step { command, run_in }
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
            error_code: first(&|c| c.ev.error_code.clone().filter(|e| e != "AccessDenied")),
            expected_owner: first(&|c| c.ev.expected_bucket_owner.clone().filter(|e| !e.trim().is_empty())),
            vpce_account: first(&|c| c.ev.vpc_endpoint_account.clone().filter(|a| is_account_id(a))),
            change_account: first(&|c| c.change.and_then(|(e, _)| e.recipient_account.clone())),
            sse_condition: ctxs.iter().any(|c| c.hit(super::policy::KeyClass::Sse).is_some()),
        }
    }

    fn region(&self) -> String {
        self.region.as_deref().map_or_else(|| "<region>".to_string(), |r| sh(r).into_owned())
    }

    fn caller_account(&self) -> String {
        match self.caller_account.as_deref() {
            Some(a) => format!("the caller's account {a}"),
            None => "the caller's account".to_string(),
        }
    }

    fn owner_account(&self) -> String {
        match self.owner_account.as_deref().or(self.caller_account.as_deref()) {
            Some(a) => format!("the bucket owner's account {a}"),
            None => "the bucket owner's account".to_string(),
        }
    }

    /// The KMS key's region and owner account, from its ARN.
    fn key_region_account(&self) -> (String, String) {
        let parts: Vec<&str> = self.kms_key.as_deref().unwrap_or("").splitn(6, ':').collect();
        match parts.as_slice() {
            [_, _, "kms", r, a, _] if !r.is_empty() && is_account_id(a) => {
                (sh(r).into_owned(), format!("the key owner's account {a}"))
            }
            _ => (self.region(), "the key owner's account".to_string()),
        }
    }

    fn caller_is_user(&self) -> bool {
        self.principal_arn.as_deref().is_some_and(is_user_arn)
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

const MANAGEMENT: &str = "the organization's management account (or its delegated administrator)";

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

pub(crate) fn simulate(f: &Fill) -> Vec<Step> {
    let action = f.s3_action.as_deref().unwrap_or("s3:PutObject");
    vec![step(
        format!(
            "aws iam simulate-principal-policy --policy-source-arn {} --action-names {} --resource-arns {}",
            f.arn(),
            sh(action),
            f.object_arn()
        ),
        f.caller_account(),
    )]
}

fn get_bucket_policy(f: &Fill) -> Step {
    step(
        format!(
            "aws s3api get-bucket-policy --bucket {} --region {} --query 'Policy' --output text",
            f.bucket(),
            f.region()
        ),
        f.owner_account(),
    )
}

fn get_bucket_pab(f: &Fill) -> Step {
    step(
        format!("aws s3api get-public-access-block --bucket {} --region {}", f.bucket(), f.region()),
        f.owner_account(),
    )
}

fn get_bucket_encryption(f: &Fill) -> Step {
    step(format!("aws s3api get-bucket-encryption --bucket {} --region {}", f.bucket(), f.region()), f.owner_account())
}

pub(crate) fn bucket_policy(f: &Fill) -> Vec<Step> {
    let mut out = vec![get_bucket_policy(f)];
    out.extend(simulate_with_bucket_policy(f));
    out
}

/// simulate-principal-policy sees a bucket policy only through `--resource-policy`, and only for
/// an IAM-user caller (CallerArn cannot be a role or session): for roles the step says so.
fn simulate_with_bucket_policy(f: &Fill) -> Option<Step> {
    if !f.caller_is_user() {
        return None;
    }
    let owner = f.owner_account.as_deref().or(f.caller_account.as_deref()).unwrap_or("<owner-account-id>");
    let p = f.principal_arn.as_deref().and_then(partition).unwrap_or("aws");
    let context = if f.sse_condition {
        " --context-entries ContextKeyName=s3:x-amz-server-side-encryption,ContextKeyValues=aws:kms,ContextKeyType=string"
    } else {
        ""
    };
    Some(step(
        format!(
            "aws iam simulate-principal-policy --policy-source-arn {arn} --action-names {action} --resource-arns {obj} --resource-policy file://bucket-policy.json --resource-owner {owner_arn}{context}",
            arn = f.arn(),
            action = sh(f.s3_action.as_deref().unwrap_or("s3:PutObject")),
            obj = f.object_arn(),
            owner_arn = sh(&format!("arn:{p}:iam::{owner}:root")),
        ),
        format!("{} (bucket-policy.json: the get-bucket-policy output)", f.caller_account()),
    ))
}

pub(crate) fn bucket_policy_deny(f: &Fill) -> Vec<Step> {
    let mut first = get_bucket_policy(f);
    if !f.caller_is_user() && f.principal_arn.is_some() {
        first.run_in.push_str(
            "; simulate-principal-policy cannot evaluate a bucket policy for a role caller (CallerArn must be an IAM user), so read the Deny statements",
        );
    }
    let mut out = vec![first];
    out.extend(simulate_with_bucket_policy(f));
    out.push(get_bucket_pab(f));
    out
}

/// SCPs (or RCPs) that apply to an account: those attached to it and to every parent up to the
/// root, listed from the management account; then the policy the message names, if it does.
fn org_policies(f: &Fill, target: Option<&str>, filter: &str) -> Vec<Step> {
    let id = target.map_or_else(|| "<account-id>".to_string(), |a| sh(a).into_owned());
    let mut out = vec![step(
        format!(
            "id={id}; while :; do aws organizations list-policies-for-target --target-id \"$id\" --filter {filter} --query 'Policies[].[Id,Name]' --output text; case \"$id\" in r-*) break;; esac; id=$(aws organizations list-parents --child-id \"$id\" --query 'Parents[0].Id' --output text) || break; done"
        ),
        MANAGEMENT.to_string(),
    )];
    for pid in &f.org_policy_ids {
        out.push(step(
            format!("aws organizations describe-policy --policy-id {} --query 'Policy.Content' --output text", sh(pid)),
            MANAGEMENT.to_string(),
        ));
    }
    out
}

pub(crate) fn scp(f: &Fill) -> Vec<Step> {
    // SCPs apply to the caller's account.
    org_policies(f, f.caller_account.as_deref(), "SERVICE_CONTROL_POLICY")
}

pub(crate) fn rcp(f: &Fill) -> Vec<Step> {
    // RCPs apply to the resource's account.
    org_policies(f, f.owner_account.as_deref().or(f.caller_account.as_deref()), "RESOURCE_CONTROL_POLICY")
}

pub(crate) fn vpce(f: &Fill) -> Vec<Step> {
    let run_in = match f.vpce_account.as_deref().or(f.caller_account.as_deref()) {
        Some(a) => format!("the VPC endpoint owner's account {a}"),
        None => "the VPC endpoint owner's account".to_string(),
    };
    match f.vpce.as_deref() {
        Some(id) => vec![step(
            format!(
                "aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {} --region {} --query 'VpcEndpoints[].PolicyDocument' --output text",
                sh(id),
                f.region()
            ),
            run_in,
        )],
        None => vec![step(
            format!(
                "aws ec2 describe-vpc-endpoints --filters Name=service-name,Values=com.amazonaws.{}.s3 --region {} --query 'VpcEndpoints[].[VpcEndpointId,PolicyDocument]' --output text",
                f.region(),
                f.region()
            ),
            run_in,
        )],
    }
}

pub(crate) fn boundary(f: &Fill) -> Vec<Step> {
    let arn = f.principal_arn.as_deref().unwrap_or("");
    let name = iam_name(arn).map_or_else(|| "<name>".to_string(), |n| sh(n).into_owned());
    let cmd = if arn.contains(":user/") {
        format!(
            "aws iam get-user --user-name {name} --query 'User.PermissionsBoundary.PermissionsBoundaryArn' --output text"
        )
    } else {
        format!(
            "aws iam get-role --role-name {name} --query 'Role.PermissionsBoundary.PermissionsBoundaryArn' --output text"
        )
    };
    vec![step(cmd, f.caller_account())]
}

pub(crate) fn session(f: &Fill) -> Vec<Step> {
    vec![
        step(
            format!(
                "aws cloudtrail lookup-events --region {} --lookup-attributes AttributeKey=ResourceName,AttributeValue={}",
                f.region(),
                f.arn()
            ),
            f.caller_account(),
        ),
        step(
            format!(
                "aws iam simulate-custom-policy --policy-input-list file://session-policy.json --action-names {} --resource-arns {}",
                sh(f.s3_action.as_deref().unwrap_or("s3:PutObject")),
                f.object_arn()
            ),
            format!("{} (session-policy.json: the policy the AssumeRole call passed)", f.caller_account()),
        ),
    ]
}

pub(crate) fn kms(f: &Fill) -> Vec<Step> {
    let (region, key_owner) = f.key_region_account();
    let mut out = Vec::new();
    match f.kms_key.as_deref() {
        // get-key-policy takes a key id or ARN, not an alias.
        Some(k) if k.contains("alias/") => out.push(step(
            format!("aws kms describe-key --key-id {} --region {region} --query 'KeyMetadata.Arn' --output text", sh(k)),
            key_owner.clone(),
        )),
        _ => out.push(step(
            format!(
                "aws kms get-key-policy --key-id {} --policy-name default --region {region} --query 'Policy' --output text",
                f.kms_key()
            ),
            key_owner,
        )),
    }
    out.push(get_bucket_encryption(f));
    if let (Some(_), Some(k)) = (&f.principal_arn, f.kms_key.as_deref().filter(|k| k.contains(":key/"))) {
        out.push(step(
            format!(
                "aws iam simulate-principal-policy --policy-source-arn {} --action-names kms:GenerateDataKey --resource-arns {}",
                f.arn(),
                sh(k)
            ),
            format!("{} (sees the identity side only, not the key policy)", f.caller_account()),
        ));
    }
    out
}

pub(crate) fn kms_key(f: &Fill) -> Vec<Step> {
    let (region, key_owner) = f.key_region_account();
    match f.kms_key.as_deref() {
        Some(k) => vec![step(
            format!(
                "aws kms describe-key --key-id {} --region {region} --query 'KeyMetadata.[KeyState,KeyUsage]' --output text",
                sh(k)
            ),
            key_owner,
        )],
        None => vec![get_bucket_encryption(f)],
    }
}

pub(crate) fn kms_managed(f: &Fill) -> Vec<Step> {
    vec![
        get_bucket_encryption(f),
        step(
            format!(
                "aws kms describe-key --key-id alias/aws/s3 --region {} --query 'KeyMetadata.KeyManager' --output text",
                f.region()
            ),
            f.owner_account(),
        ),
    ]
}

pub(crate) fn public_access_block(f: &Fill) -> Vec<Step> {
    let account = f.owner_account.as_deref().or(f.caller_account.as_deref());
    vec![
        get_bucket_pab(f),
        step(
            format!(
                "aws s3control get-public-access-block --account-id {} --region {}",
                Fill::account(account),
                f.region()
            ),
            f.owner_account(),
        ),
    ]
}

pub(crate) fn ownership_controls(f: &Fill) -> Vec<Step> {
    vec![step(
        format!(
            "aws s3api get-bucket-ownership-controls --bucket {} --region {} --query 'OwnershipControls.Rules[].ObjectOwnership' --output text",
            f.bucket(),
            f.region()
        ),
        f.owner_account(),
    )]
}

pub(crate) fn cross_account(f: &Fill) -> Vec<Step> {
    let mut out = simulate(f);
    out.push(get_bucket_policy(f));
    out
}

pub(crate) fn sse_policy(f: &Fill) -> Vec<Step> {
    vec![get_bucket_policy(f), get_bucket_encryption(f)]
}

pub(crate) fn bucket_encryption(f: &Fill) -> Vec<Step> {
    vec![get_bucket_encryption(f)]
}

pub(crate) fn mfa(f: &Fill) -> Vec<Step> {
    vec![
        get_bucket_policy(f),
        step(
            format!(
                "aws iam simulate-principal-policy --policy-source-arn {} --action-names s3:PutObject --resource-arns {} --context-entries ContextKeyName=aws:MultiFactorAuthPresent,ContextKeyValues=true,ContextKeyType=boolean",
                f.arn(),
                f.object_arn()
            ),
            format!(
                "{} (identity policies only; a bucket policy needs --resource-policy and an IAM-user caller)",
                f.caller_account()
            ),
        ),
    ]
}

pub(crate) fn network(f: &Fill) -> Vec<Step> {
    let mut out = vec![get_bucket_policy(f)];
    if f.vpce.is_some() {
        out.extend(vpce(f));
    }
    out
}

/// head-bucket with the header the client sent answers 403 when that account does not own the
/// bucket (an ACL's Owner is a canonical user ID, not an account ID, so compare nothing by hand).
pub(crate) fn bucket_owner(f: &Fill) -> Vec<Step> {
    let expected =
        f.expected_owner.as_deref().map_or_else(|| "<account-id>".to_string(), |e| sh(e.trim()).into_owned());
    vec![step(
        format!(
            "aws s3api head-bucket --bucket {} --expected-bucket-owner {expected} --region {}",
            f.bucket(),
            f.region()
        ),
        f.caller_account(),
    )]
}

pub(crate) fn object_lock(f: &Fill) -> Vec<Step> {
    vec![
        step(
            format!("aws s3api get-object-lock-configuration --bucket {} --region {}", f.bucket(), f.region()),
            f.owner_account(),
        ),
        step(
            format!(
                "aws iam simulate-principal-policy --policy-source-arn {} --action-names s3:PutObjectRetention s3:PutObjectLegalHold --resource-arns {}",
                f.arn(),
                f.object_arn()
            ),
            f.caller_account(),
        ),
    ]
}

pub(crate) fn requester_pays(f: &Fill) -> Vec<Step> {
    vec![step(
        format!(
            "aws s3api get-bucket-request-payment --bucket {} --region {} --query 'Payer' --output text",
            f.bucket(),
            f.region()
        ),
        f.owner_account(),
    )]
}

pub(crate) fn access_point(f: &Fill) -> Vec<Step> {
    let (account, name) = match &f.access_point {
        Some((a, n)) => (sh(a).into_owned(), sh(n).into_owned()),
        None => ("<account-id>".to_string(), "<access-point>".to_string()),
    };
    let run_in = format!("the access point owner's account {account}");
    vec![
        step(
            format!("aws s3control get-access-point --account-id {account} --name {name} --region {}", f.region()),
            run_in.clone(),
        ),
        step(
            format!(
                "aws s3control get-access-point-policy --account-id {account} --name {name} --region {}",
                f.region()
            ),
            run_in,
        ),
    ]
}

pub(crate) fn policy_change(f: &Fill) -> Vec<Step> {
    let id = f.change_event_id.as_deref().map_or_else(|| "<event-id>".to_string(), |i| sh(i).into_owned());
    let run_in = match f.change_account.as_deref() {
        Some(a) => format!("account {a}, whose trail logged the change"),
        None => "the account whose trail logged the change".to_string(),
    };
    vec![step(
        format!(
            "aws cloudtrail lookup-events --region {} --lookup-attributes AttributeKey=EventId,AttributeValue={id}",
            f.region()
        ),
        run_in,
    )]
}

/// Errors no policy causes: checks of the bucket or the client, never an IAM simulation.
pub(crate) fn request_error(f: &Fill) -> Vec<Step> {
    match f.error_code.as_deref().unwrap_or("") {
        "NoSuchBucket" => vec![step(
            format!("aws s3api head-bucket --bucket {} --region {}", f.bucket(), f.region()),
            f.caller_account(),
        )],
        "ExpiredToken" | "TokenRefreshRequired" | "InvalidToken" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
            vec![step(
                "aws sts get-caller-identity --query 'Arn' --output text".to_string(),
                "the client's environment, with the credentials it uses".to_string(),
            )]
        }
        "RequestTimeTooSkewed" => vec![step("date -u".to_string(), "the client's host (compare with UTC)".to_string())],
        _ => Vec::new(),
    }
}

/// A probe or an anonymous write: confirm public writes stay blocked, nothing to grant.
pub(crate) fn suspicious(f: &Fill) -> Vec<Step> {
    vec![
        get_bucket_pab(f),
        step(
            format!(
                "aws s3api get-bucket-acl --bucket {} --region {} --query 'Grants[?Grantee.URI]'",
                f.bucket(),
                f.region()
            ),
            f.owner_account(),
        ),
    ]
}

/// `unexplained`: the broad checks, most common causes first.
pub(crate) fn unexplained(f: &Fill) -> Vec<Step> {
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
