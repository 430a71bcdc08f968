//! Organizations: the SCPs and RCPs that apply to an account, root first, then each OU, then the
//! account, when the credentials may read them (the management account or a delegated
//! administrator).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_organizations::types::PolicyType;
use denytrail_core::policy::{AccountOrg, OrgLevel, Policy, Visibility};

use super::{Ctx, Failure, document};

/// Levels above an account at most (AWS allows five OU levels under the root).
const MAX_DEPTH: usize = 8;

pub(crate) async fn accounts(ctx: &Ctx, wanted: &BTreeSet<String>) -> BTreeMap<String, Visibility<AccountOrg>> {
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return out;
    }
    let config =
        aws_sdk_organizations::config::Builder::from(&ctx.sdk).retry_config(Ctx::retry()).region(ctx.region(None));
    let client = aws_sdk_organizations::Client::from_conf(config.build());
    let org = match ctx.call(client.describe_organization().send()).await {
        Ok(o) => o.organization().cloned(),
        Err(f) if f.code == "AWSOrganizationsNotInUseException" => {
            // The credentials' account is in no organization: no SCP or RCP applies to it.
            for a in wanted {
                let v = match ctx.foreign(Some(a)) {
                    Some(nv) => nv,
                    None => Visibility::Visible(AccountOrg::default()),
                };
                out.insert(a.clone(), v);
            }
            return out;
        }
        Err(f) => {
            for a in wanted {
                out.insert(a.clone(), f.not_visible());
            }
            return out;
        }
    };
    let org_id = org.as_ref().and_then(|o| o.id()).map(str::to_string);
    let master = org.as_ref().and_then(|o| o.master_account_id()).map(str::to_string);
    let mut policies: HashMap<String, Result<Policy, Failure>> = HashMap::new();
    for account in wanted {
        if master.as_deref() == Some(account.as_str()) {
            let v = AccountOrg { org_id: org_id.clone(), management: true, ..AccountOrg::default() };
            out.insert(account.clone(), Visibility::Visible(v));
            continue;
        }
        let v = match levels(ctx, &client, account, &mut policies).await {
            Ok((scps, rcps)) => {
                Visibility::Visible(AccountOrg { org_id: org_id.clone(), management: false, scps, rcps })
            }
            Err(f) => f.not_visible(),
        };
        out.insert(account.clone(), v);
    }
    out
}

/// The account's path to the root, root first, then the policies of each kind at each level.
async fn levels(
    ctx: &Ctx,
    client: &aws_sdk_organizations::Client,
    account: &str,
    cache: &mut HashMap<String, Result<Policy, Failure>>,
) -> Result<(Vec<OrgLevel>, Vec<OrgLevel>), Failure> {
    let mut path = vec![account.to_string()];
    let mut child = account.to_string();
    for _ in 0..MAX_DEPTH {
        let o = ctx.call(client.list_parents().child_id(&child).send()).await?;
        let Some(parent) = o.parents().first() else { break };
        let id = parent.id().unwrap_or_default().to_string();
        path.push(id.clone());
        if parent.r#type() == Some(&aws_sdk_organizations::types::ParentType::Root) {
            break;
        }
        child = id;
    }
    path.reverse();
    let mut kinds = Vec::new();
    for kind in [PolicyType::ServiceControlPolicy, PolicyType::ResourceControlPolicy] {
        let mut levels = Vec::new();
        let mut enabled = true;
        for target in &path {
            let listed =
                ctx.call(client.list_policies_for_target().target_id(target).filter(kind.clone()).send()).await;
            let summaries = match listed {
                Ok(o) => o.policies().to_vec(),
                // A policy type that is not enabled applies nothing (and has no levels to pass).
                Err(f) if f.code == "PolicyTypeNotEnabledException" => {
                    enabled = false;
                    break;
                }
                Err(f) => return Err(f),
            };
            let mut level = OrgLevel { target: target.clone(), policies: Vec::new() };
            for s in summaries {
                let Some(id) = s.id().map(str::to_string) else { continue };
                if !cache.contains_key(&id) {
                    let got = match ctx.call(client.describe_policy().policy_id(&id).send()).await {
                        Ok(o) => match o.policy().and_then(|p| p.content()) {
                            Some(text) => document(s.arn().unwrap_or(&id).to_string(), text),
                            None => Err(Failure::unreadable(&id)),
                        },
                        Err(f) => Err(f),
                    };
                    cache.insert(id.clone(), got);
                }
                level.policies.push(cache[&id].clone()?);
            }
            levels.push(level);
        }
        kinds.push(if enabled { levels } else { Vec::new() });
    }
    let rcps = kinds.pop().unwrap_or_default();
    let scps = kinds.pop().unwrap_or_default();
    Ok((scps, rcps))
}
