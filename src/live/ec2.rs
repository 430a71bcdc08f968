//! EC2: a VPC endpoint's policy (`DescribeVpcEndpoints`), asked in the region of the requests
//! that came through it.

use denytrail_core::policy::{NotVisibleReason, Visibility, VpcEndpointConfig};

use super::{Ctx, document};

pub(crate) async fn endpoint(ctx: &Ctx, id: &str, region: Option<&str>) -> VpcEndpointConfig {
    let config = aws_sdk_ec2::config::Builder::from(&ctx.sdk).retry_config(Ctx::retry()).region(ctx.region(region));
    let client = aws_sdk_ec2::Client::from_conf(config.build());
    let policy = match ctx.call(client.describe_vpc_endpoints().vpc_endpoint_ids(id).send()).await {
        Ok(o) => match o.vpc_endpoints().iter().find(|e| e.vpc_endpoint_id() == Some(id)) {
            None => Visibility::NotVisible {
                reason: NotVisibleReason::NotFound,
                detail: Some(format!("{id} is not listed")),
            },
            Some(e) => match e.policy_document().map(|text| document(id.to_string(), text)) {
                None => Visibility::Visible(None),
                Some(Ok(p)) => Visibility::Visible(Some(p)),
                Some(Err(f)) => f.not_visible(),
            },
        },
        Err(f) => f.not_visible(),
    };
    VpcEndpointConfig { policy }
}
