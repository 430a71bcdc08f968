//! IAM: a role's or user's attached (default version) and inline policies, its permissions
//! boundary, and a user's groups' policies. Managed policies are read once per ARN.

use std::collections::HashMap;
use std::sync::Arc;

use denytrail_core::policy::{NotVisibleReason, Policy, PrincipalConfig, Visibility};
use tokio::sync::{Mutex, OnceCell};

use super::{Ctx, Failure, document};

/// Pages read of one listing at most (100 items each by default).
const MAX_PAGES: usize = 20;

pub(crate) struct Iam {
    client: aws_sdk_iam::Client,
    managed: Mutex<HashMap<String, Once<Result<Policy, Failure>>>>,
}

/// A value read once, shared by every task that asks for it.
type Once<T> = Arc<OnceCell<T>>;

enum Kind {
    Role,
    User,
}

impl Iam {
    pub fn new(ctx: &Ctx) -> Iam {
        let config = aws_sdk_iam::config::Builder::from(&ctx.sdk).retry_config(Ctx::retry()).region(ctx.region(None));
        Iam { client: aws_sdk_iam::Client::from_conf(config.build()), managed: Mutex::default() }
    }

    /// `arn:aws:iam::A:role/path/name` or `…:user/name`.
    pub async fn principal(&self, ctx: &Ctx, arn: &str) -> PrincipalConfig {
        let account = arn.split(':').nth(4).filter(|a| !a.is_empty());
        let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
        let (kind, name) = match resource.split_once('/') {
            Some(("role", rest)) => (Kind::Role, rest.rsplit('/').next().unwrap_or(rest)),
            Some(("user", rest)) => (Kind::User, rest.rsplit('/').next().unwrap_or(rest)),
            _ => {
                let f = Failure {
                    code: String::new(),
                    reason: NotVisibleReason::NotFetched,
                    detail: format!("{arn} is not a role or user"),
                };
                return unseen(&f, false);
            }
        };
        let sso_reserved = matches!(kind, Kind::Role) && name.starts_with("AWSReservedSSO_");
        if let Some(Visibility::NotVisible { reason, detail }) = ctx.foreign::<()>(account) {
            let f = Failure { code: String::new(), reason, detail: detail.unwrap_or_default() };
            return unseen(&f, sso_reserved);
        }
        let result = match kind {
            Kind::Role => self.role(ctx, name).await,
            Kind::User => self.user(ctx, name).await,
        };
        match result {
            Ok((identity, groups, boundary_arn)) => {
                let permissions_boundary = match boundary_arn {
                    None => Visibility::Visible(None),
                    Some(b) => match self.managed(ctx, &b).await {
                        Ok(p) => Visibility::Visible(Some(p)),
                        Err(f) => f.not_visible(),
                    },
                };
                PrincipalConfig {
                    identity_policies: identity,
                    group_policies: groups,
                    permissions_boundary,
                    sso_reserved,
                }
            }
            Err(f) => unseen(&f, sso_reserved),
        }
    }

    #[allow(clippy::type_complexity)]
    async fn role(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<(Visibility<Vec<Policy>>, Visibility<Vec<Policy>>, Option<String>), Failure> {
        let role = ctx.call(self.client.get_role().role_name(name).send()).await?;
        let boundary = role
            .role()
            .and_then(|r| r.permissions_boundary())
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string);
        let identity = self.attached_and_inline(ctx, &Kind::Role, name).await;
        Ok((identity, Visibility::Visible(Vec::new()), boundary))
    }

    #[allow(clippy::type_complexity)]
    async fn user(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<(Visibility<Vec<Policy>>, Visibility<Vec<Policy>>, Option<String>), Failure> {
        let user = ctx.call(self.client.get_user().user_name(name).send()).await?;
        let boundary = user
            .user()
            .and_then(|u| u.permissions_boundary())
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string);
        let identity = self.attached_and_inline(ctx, &Kind::User, name).await;
        let groups = match self.groups_of(ctx, name).await {
            Err(f) => f.not_visible(),
            Ok(groups) => {
                let mut all = Vec::new();
                let mut gap = None;
                for g in groups {
                    match self.group_policies(ctx, &g).await {
                        Ok(p) => all.extend(p),
                        Err(f) => gap = Some(f),
                    }
                }
                match gap {
                    Some(f) => f.not_visible(),
                    None => Visibility::Visible(all),
                }
            }
        };
        Ok((identity, groups, boundary))
    }

    /// A role's or user's attached managed policies (default versions) and inline policies.
    async fn attached_and_inline(&self, ctx: &Ctx, kind: &Kind, name: &str) -> Visibility<Vec<Policy>> {
        let result: Result<Vec<Policy>, Failure> = async {
            let mut out = Vec::new();
            for arn in self.attached(ctx, kind, name).await? {
                out.push(self.managed(ctx, &arn).await?);
            }
            out.extend(self.inline(ctx, kind, name).await?);
            Ok(out)
        }
        .await;
        match result {
            Ok(list) => Visibility::Visible(list),
            Err(f) => f.not_visible(),
        }
    }

    async fn attached(&self, ctx: &Ctx, kind: &Kind, name: &str) -> Result<Vec<String>, Failure> {
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (list, next) = match kind {
                Kind::Role => {
                    let o = ctx
                        .call(
                            self.client.list_attached_role_policies().role_name(name).set_marker(marker.clone()).send(),
                        )
                        .await?;
                    (o.attached_policies().to_vec(), o.marker().filter(|_| o.is_truncated()).map(str::to_string))
                }
                Kind::User => {
                    let o = ctx
                        .call(
                            self.client.list_attached_user_policies().user_name(name).set_marker(marker.clone()).send(),
                        )
                        .await?;
                    (o.attached_policies().to_vec(), o.marker().filter(|_| o.is_truncated()).map(str::to_string))
                }
            };
            arns.extend(list.iter().filter_map(|p| p.policy_arn().map(str::to_string)));
            match next {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        Ok(arns)
    }

    async fn inline(&self, ctx: &Ctx, kind: &Kind, name: &str) -> Result<Vec<Policy>, Failure> {
        let (label, names) = match kind {
            Kind::Role => {
                let o = ctx.call(self.client.list_role_policies().role_name(name).send()).await?;
                ("role", o.policy_names().to_vec())
            }
            Kind::User => {
                let o = ctx.call(self.client.list_user_policies().user_name(name).send()).await?;
                ("user", o.policy_names().to_vec())
            }
        };
        let mut out = Vec::new();
        for policy in names {
            let text = match kind {
                Kind::Role => ctx
                    .call(self.client.get_role_policy().role_name(name).policy_name(&policy).send())
                    .await?
                    .policy_document()
                    .to_string(),
                Kind::User => ctx
                    .call(self.client.get_user_policy().user_name(name).policy_name(&policy).send())
                    .await?
                    .policy_document()
                    .to_string(),
            };
            out.push(document(format!("{label}/{name}:{policy}"), &text)?);
        }
        Ok(out)
    }

    async fn groups_of(&self, ctx: &Ctx, user: &str) -> Result<Vec<String>, Failure> {
        let o = ctx.call(self.client.list_groups_for_user().user_name(user).send()).await?;
        Ok(o.groups().iter().map(|g| g.group_name().to_string()).collect())
    }

    async fn group_policies(&self, ctx: &Ctx, group: &str) -> Result<Vec<Policy>, Failure> {
        let mut out = Vec::new();
        let attached = ctx.call(self.client.list_attached_group_policies().group_name(group).send()).await?;
        for arn in attached.attached_policies().iter().filter_map(|p| p.policy_arn()) {
            out.push(self.managed(ctx, arn).await?);
        }
        let inline = ctx.call(self.client.list_group_policies().group_name(group).send()).await?;
        for policy in inline.policy_names() {
            let o = ctx.call(self.client.get_group_policy().group_name(group).policy_name(policy).send()).await?;
            out.push(document(format!("group/{group}:{policy}"), o.policy_document())?);
        }
        Ok(out)
    }

    /// A managed policy's default version, read once per ARN for the whole fetch.
    async fn managed(&self, ctx: &Ctx, arn: &str) -> Result<Policy, Failure> {
        let cell = self.managed.lock().await.entry(arn.to_string()).or_default().clone();
        cell.get_or_init(|| async {
            let p = ctx.call(self.client.get_policy().policy_arn(arn).send()).await?;
            let version = p.policy().and_then(|p| p.default_version_id()).unwrap_or("v1").to_string();
            let v = ctx.call(self.client.get_policy_version().policy_arn(arn).version_id(version).send()).await?;
            let text = v.policy_version().and_then(|v| v.document()).ok_or_else(|| Failure::unreadable(arn))?;
            document(arn.to_string(), text)
        })
        .await
        .clone()
    }
}

/// A principal none of whose policies could be read.
fn unseen(f: &Failure, sso_reserved: bool) -> PrincipalConfig {
    PrincipalConfig {
        identity_policies: f.not_visible(),
        group_policies: f.not_visible(),
        permissions_boundary: f.not_visible(),
        sso_reserved,
    }
}
