//! `--trail NAME|ARN`: find a trail's bucket and prefix, and check that it logs S3 writes.
//!
//! DescribeTrails gives the bucket, the key prefix and the org / multi-region flags, which narrow
//! the listing to the trail's own folders. GetEventSelectors then says whether a denied PutObject
//! would be in the logs at all: a trail without S3 data events reports "no denials found" for
//! denials that did happen, so that is said before the scan, with what is not covered.

use anyhow::{Context, Result, anyhow};
use aws_config::SdkConfig;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::Region;
use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
use aws_sdk_cloudtrail::types::Trail;

use super::Input;
use crate::aws::{AwsOptions, FALLBACK_REGION, Problem, runtime, sdk_config};

/// What a trail lookup found: the S3 inputs to scan, and warnings for the user (e.g. the trail
/// does not log S3 write data events for some or all buckets).
#[derive(Debug, Default)]
pub struct TrailInputs {
    pub inputs: Vec<Input>,
    pub warnings: Vec<String>,
}

pub fn resolve(trail: &str, opts: &AwsOptions) -> Result<TrailInputs> {
    runtime()?.block_on(resolve_async(trail, opts))
}

async fn resolve_async(trail: &str, opts: &AwsOptions) -> Result<TrailInputs> {
    let sdk = sdk_config(opts).await;
    let arn = TrailArn::parse(trail);
    // A trail ARN names its region; a bare name is looked up in the configured one.
    let region = arn
        .as_ref()
        .map(|a| a.region.to_string())
        .or_else(|| opts.region.clone())
        .or_else(|| sdk.region().map(|r| r.to_string()));
    let region = region.unwrap_or_else(|| FALLBACK_REGION.to_string());
    let client = cloudtrail(&sdk, &region);
    let found = describe(&client, trail, &region).await?;

    let name = found.name().unwrap_or(trail).to_string();
    let bucket = found
        .s3_bucket_name()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| anyhow!("--trail {trail}: the trail names no S3 bucket"))?;
    let account = found
        .trail_arn()
        .and_then(TrailArn::parse)
        .map(|a| a.account.to_string())
        .or_else(|| arn.as_ref().map(|a| a.account.to_string()));
    let home = found.home_region().unwrap_or(&region).to_string();
    let prefix = trail_prefix(
        found.s3_key_prefix(),
        account.as_deref(),
        found.is_organization_trail().unwrap_or(false),
        found.is_multi_region_trail().unwrap_or(false),
        &home,
    );

    // Selectors and status live in the trail's home region.
    let client = if home == region { client } else { cloudtrail(&sdk, &home) };
    let id = found.trail_arn().unwrap_or(trail);
    let mut warnings = Vec::new();
    match client.get_event_selectors().trail_name(id).send().await {
        Ok(out) => warnings.extend(selectors_of(&out).coverage().warning(&name)),
        Err(e) => warnings.push(format!(
            "cannot read the event selectors of trail {name} ({}): if it does not log S3 data events, denied writes are not in its logs",
            Problem::of(&e).detail()
        )),
    }
    if let Ok(status) = client.get_trail_status().name(id).send().await
        && status.is_logging() == Some(false)
    {
        warnings.push(format!("trail {name} is not logging: nothing since it was stopped is in its logs"));
    }
    Ok(TrailInputs { inputs: vec![Input::S3 { bucket: bucket.to_string(), prefix }], warnings })
}

fn cloudtrail(sdk: &SdkConfig, region: &str) -> Client {
    let config = aws_sdk_cloudtrail::config::Builder::from(sdk).region(Region::new(region.to_string())).build();
    Client::from_conf(config)
}

/// DescribeTrails for one name or ARN, shadow trails included (a multi-region trail is visible
/// from every region), with the one-line errors of the contract.
async fn describe(client: &Client, trail: &str, region: &str) -> Result<Trail> {
    let out =
        client.describe_trails().trail_name_list(trail).include_shadow_trails(true).send().await.map_err(|e| {
            let problem = Problem::of(&e);
            match problem.credentials_line() {
                Some(line) => anyhow!("--trail {trail}: {line}"),
                None => anyhow!("--trail {trail}: cannot describe the trail: {}", problem.detail()),
            }
        })?;
    let wanted = |t: &&Trail| t.name() == Some(trail) || t.trail_arn() == Some(trail);
    out.trail_list().iter().find(wanted).cloned().with_context(|| {
        format!("--trail {trail}: no such trail in {region} (give its ARN, or --aws-region with its home region)")
    })
}

/// The parts of `arn:aws:cloudtrail:<region>:<account>:trail/<name>`.
#[derive(Debug, PartialEq, Eq)]
struct TrailArn<'a> {
    region: &'a str,
    account: &'a str,
    name: &'a str,
}

impl<'a> TrailArn<'a> {
    fn parse(s: &'a str) -> Option<TrailArn<'a>> {
        let mut parts = s.splitn(6, ':');
        let (arn, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
        let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
        let name = resource.strip_prefix("trail/")?;
        (arn == "arn" && service == "cloudtrail" && !region.is_empty() && !name.is_empty()).then_some(TrailArn {
            region,
            account,
            name,
        })
    }
}

/// The part of the bucket that holds this trail's logs: `[prefix/]AWSLogs/` for an organization
/// trail (one folder per org and member account), else `[prefix/]AWSLogs/<account>/CloudTrail/`,
/// narrowed to the home region's folder for a single-region trail.
fn trail_prefix(key_prefix: Option<&str>, account: Option<&str>, org: bool, multi_region: bool, home: &str) -> String {
    let mut p = String::new();
    if let Some(k) = key_prefix.map(|k| k.trim_matches('/')).filter(|k| !k.is_empty()) {
        p.push_str(k);
        p.push('/');
    }
    p.push_str("AWSLogs/");
    if !org && let Some(account) = account {
        p.push_str(account);
        p.push_str("/CloudTrail/");
        if !multi_region {
            p.push_str(home);
            p.push('/');
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Event selectors

/// A trail's event selectors, reduced to what decides whether S3 object writes are logged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selectors {
    pub basic: Vec<BasicSelector>,
    pub advanced: Vec<Vec<FieldSelector>>,
}

/// A basic selector: `ReadWriteType` and the S3 object resources (`DataResources` of type
/// `AWS::S3::Object`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasicSelector {
    pub read_write: Option<String>,
    pub s3_objects: Vec<String>,
}

/// One field condition of an advanced selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

/// Where a trail logs denied S3 object writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCoverage {
    /// Every bucket.
    All,
    /// Only what these describe (resources, and conditions such as caller or event name).
    Partial(Vec<String>),
    /// S3 data events are selected, but not writes.
    ReadOnly,
    /// No S3 data events.
    None,
}

/// The S3 object writes the scan looks for by default.
const WRITE_EVENTS: &[&str] =
    &["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject", "UploadPartCopy"];

fn selectors_of(out: &GetEventSelectorsOutput) -> Selectors {
    let basic = out
        .event_selectors()
        .iter()
        .map(|s| BasicSelector {
            read_write: s.read_write_type().map(|t| t.as_str().to_string()),
            s3_objects: s
                .data_resources()
                .iter()
                .filter(|r| r.r#type() == Some("AWS::S3::Object"))
                .flat_map(|r| r.values().to_vec())
                .collect(),
        })
        .collect();
    let advanced = out
        .advanced_event_selectors()
        .iter()
        .map(|s| {
            s.field_selectors()
                .iter()
                .map(|f| FieldSelector {
                    field: f.field().to_string(),
                    equals: f.equals().to_vec(),
                    starts_with: f.starts_with().to_vec(),
                    ends_with: f.ends_with().to_vec(),
                    not_equals: f.not_equals().to_vec(),
                    not_starts_with: f.not_starts_with().to_vec(),
                    not_ends_with: f.not_ends_with().to_vec(),
                })
                .collect()
        })
        .collect();
    Selectors { basic, advanced }
}

/// What one selector does for a denied S3 object write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cover {
    /// Not about S3 object data events.
    Nothing,
    /// S3 object data events, but no writes.
    NoWrites,
    /// Writes, everywhere when `scope` is empty, and only under `conditions` when there are any.
    Writes { scope: Vec<String>, conditions: Vec<String> },
}

impl FieldSelector {
    /// Whether `value` passes every operator of this condition (values of one operator are
    /// alternatives, operators all apply).
    fn admits(&self, value: &str) -> bool {
        let any = |set: &[String], f: &dyn Fn(&str) -> bool| set.is_empty() || set.iter().any(|s| f(s));
        let none = |set: &[String], f: &dyn Fn(&str) -> bool| !set.iter().any(|s| f(s));
        any(&self.equals, &|s| value == s)
            && any(&self.starts_with, &|s| value.starts_with(s))
            && any(&self.ends_with, &|s| value.ends_with(s))
            && none(&self.not_equals, &|s| value == s)
            && none(&self.not_starts_with, &|s| value.starts_with(s))
            && none(&self.not_ends_with, &|s| value.ends_with(s))
    }

    /// The condition in the selector's own words: `userIdentity.arn StartsWith […]`.
    fn describe(&self) -> String {
        let ops = [
            ("Equals", &self.equals),
            ("StartsWith", &self.starts_with),
            ("EndsWith", &self.ends_with),
            ("NotEquals", &self.not_equals),
            ("NotStartsWith", &self.not_starts_with),
            ("NotEndsWith", &self.not_ends_with),
        ];
        let parts: Vec<String> = ops
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(op, v)| format!("{} {op} {}", self.field, v.join("|")))
            .collect();
        parts.join(" and ")
    }
}

/// A basic selector's S3 value that selects every bucket: `arn:aws:s3` or `arn:aws:s3:::`, in
/// any partition.
fn all_buckets(value: &str) -> bool {
    let v = value.trim_end_matches(':');
    v.starts_with("arn:") && v.ends_with(":s3") && v.matches(':').count() == 2
}

fn basic_cover(s: &BasicSelector) -> Cover {
    if s.s3_objects.is_empty() {
        return Cover::Nothing;
    }
    if s.read_write.as_deref() == Some("ReadOnly") {
        return Cover::NoWrites;
    }
    let scope = if s.s3_objects.iter().any(|v| all_buckets(v)) { Vec::new() } else { s.s3_objects.clone() };
    Cover::Writes { scope, conditions: Vec::new() }
}

fn advanced_cover(fields: &[FieldSelector]) -> Cover {
    let field = |name: &str| fields.iter().find(|f| f.field == name);
    let is_data = field("eventCategory").is_some_and(|f| f.admits("Data"));
    let is_objects = field("resources.type").is_some_and(|f| f.admits("AWS::S3::Object"));
    if !is_data || !is_objects {
        return Cover::Nothing;
    }
    let mut scope = Vec::new();
    let mut conditions = Vec::new();
    for f in fields {
        match f.field.as_str() {
            "eventCategory" | "resources.type" => {}
            "readOnly" if !f.admits("false") => return Cover::NoWrites,
            "readOnly" => {}
            // Denials carry this code; a selector that filters it out logs none of them.
            "errorCode" if !f.admits("AccessDenied") => return Cover::NoWrites,
            "errorCode" => {}
            "eventSource" if !f.admits("s3.amazonaws.com") => return Cover::Nothing,
            "eventSource" => {}
            "eventName" => {
                let names: Vec<&str> = WRITE_EVENTS.iter().copied().filter(|n| f.admits(n)).collect();
                if names.is_empty() {
                    return Cover::NoWrites;
                }
                if names.len() < WRITE_EVENTS.len() {
                    conditions.push(format!("only {}", names.join(", ")));
                }
            }
            "resources.ARN" => {
                scope.extend(f.equals.iter().chain(&f.starts_with).filter(|v| !all_buckets(v)).cloned());
                let rest = FieldSelector { equals: Vec::new(), starts_with: Vec::new(), ..f.clone() };
                if rest != (FieldSelector { field: f.field.clone(), ..Default::default() }) {
                    conditions.push(rest.describe());
                }
            }
            _ => conditions.push(f.describe()),
        }
    }
    Cover::Writes { scope, conditions }
}

impl Selectors {
    /// Where denied S3 object writes are logged. A pure function of the selectors.
    pub fn coverage(&self) -> WriteCoverage {
        let covers: Vec<Cover> =
            self.basic.iter().map(basic_cover).chain(self.advanced.iter().map(|a| advanced_cover(a))).collect();
        let mut partial = Vec::new();
        for cover in &covers {
            if let Cover::Writes { scope, conditions } = cover {
                if scope.is_empty() && conditions.is_empty() {
                    return WriteCoverage::All;
                }
                let mut text = if scope.is_empty() { "all buckets".to_string() } else { scope.join(", ") };
                if !conditions.is_empty() {
                    text.push_str(&format!(" (where {})", conditions.join("; ")));
                }
                partial.push(text);
            }
        }
        if !partial.is_empty() {
            WriteCoverage::Partial(partial)
        } else if covers.contains(&Cover::NoWrites) {
            WriteCoverage::ReadOnly
        } else {
            WriteCoverage::None
        }
    }
}

impl WriteCoverage {
    /// The warning to print before scanning, if any.
    pub fn warning(&self, trail: &str) -> Option<String> {
        match self {
            WriteCoverage::All => None,
            WriteCoverage::None => Some(format!(
                "trail {trail} logs no S3 data events: denied PutObject calls are not in its logs, so an empty report does not mean no write was denied (add an S3 data event selector to the trail)"
            )),
            WriteCoverage::ReadOnly => Some(format!(
                "trail {trail} selects only read-only S3 data events: writes are not logged, so denied PutObject calls are not in its logs"
            )),
            WriteCoverage::Partial(scopes) => Some(format!(
                "trail {trail} logs S3 write data events only for: {}; denials elsewhere are not in its logs",
                scopes.join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, op: &str, values: &[&str]) -> FieldSelector {
        let v: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        let mut f = FieldSelector { field: name.into(), ..Default::default() };
        match op {
            "Equals" => f.equals = v,
            "StartsWith" => f.starts_with = v,
            "NotEquals" => f.not_equals = v,
            "NotStartsWith" => f.not_starts_with = v,
            _ => panic!("unknown op {op}"),
        }
        f
    }

    fn s3_data(extra: Vec<FieldSelector>) -> Vec<FieldSelector> {
        let mut v =
            vec![field("eventCategory", "Equals", &["Data"]), field("resources.type", "Equals", &["AWS::S3::Object"])];
        v.extend(extra);
        v
    }

    fn basic(rw: &str, values: &[&str]) -> BasicSelector {
        BasicSelector { read_write: Some(rw.into()), s3_objects: values.iter().map(|s| s.to_string()).collect() }
    }

    fn advanced(selectors: Vec<Vec<FieldSelector>>) -> WriteCoverage {
        Selectors { basic: Vec::new(), advanced: selectors }.coverage()
    }

    #[test]
    fn basic_selectors() {
        let cov = |b: Vec<BasicSelector>| Selectors { basic: b, advanced: Vec::new() }.coverage();
        // A trail's default: management events only.
        assert_eq!(cov(vec![basic("All", &[])]), WriteCoverage::None);
        assert_eq!(cov(Vec::new()), WriteCoverage::None);
        assert_eq!(cov(vec![basic("All", &["arn:aws:s3"])]), WriteCoverage::All);
        assert_eq!(cov(vec![basic("WriteOnly", &["arn:aws:s3:::"])]), WriteCoverage::All);
        assert_eq!(cov(vec![basic("All", &["arn:aws-us-gov:s3"])]), WriteCoverage::All);
        assert_eq!(cov(vec![basic("ReadOnly", &["arn:aws:s3"])]), WriteCoverage::ReadOnly);
        assert_eq!(
            cov(vec![basic("All", &["arn:aws:s3:::a/", "arn:aws:s3:::b/logs/"])]),
            WriteCoverage::Partial(vec!["arn:aws:s3:::a/, arn:aws:s3:::b/logs/".into()])
        );
        // A read-only selector for everything plus a write one for one bucket.
        assert_eq!(
            cov(vec![basic("ReadOnly", &["arn:aws:s3"]), basic("All", &["arn:aws:s3:::a/"])]),
            WriteCoverage::Partial(vec!["arn:aws:s3:::a/".into()])
        );
        assert_eq!(
            cov(vec![basic("All", &["arn:aws:s3:::a/"]), basic("WriteOnly", &["arn:aws:s3"])]),
            WriteCoverage::All
        );
    }

    #[test]
    fn advanced_selectors() {
        assert_eq!(advanced(vec![s3_data(vec![])]), WriteCoverage::All);
        assert_eq!(advanced(vec![s3_data(vec![field("readOnly", "Equals", &["false"])])]), WriteCoverage::All);
        assert_eq!(advanced(vec![s3_data(vec![field("readOnly", "Equals", &["true"])])]), WriteCoverage::ReadOnly);
        // Management events only, or another data type.
        assert_eq!(advanced(vec![vec![field("eventCategory", "Equals", &["Management"])]]), WriteCoverage::None);
        let lambda = vec![
            field("eventCategory", "Equals", &["Data"]),
            field("resources.type", "Equals", &["AWS::Lambda::Function"]),
        ];
        assert_eq!(advanced(vec![lambda]), WriteCoverage::None);
        assert_eq!(
            advanced(vec![s3_data(vec![field(
                "resources.ARN",
                "StartsWith",
                &["arn:aws:s3:::a/", "arn:aws:s3:::b/x/"]
            )])]),
            WriteCoverage::Partial(vec!["arn:aws:s3:::a/, arn:aws:s3:::b/x/".into()])
        );
        assert_eq!(
            advanced(vec![s3_data(vec![field("resources.ARN", "NotStartsWith", &["arn:aws:s3:::noisy/"])])]),
            WriteCoverage::Partial(vec!["all buckets (where resources.ARN NotStartsWith arn:aws:s3:::noisy/)".into()])
        );
        assert_eq!(
            advanced(vec![s3_data(vec![field("eventName", "Equals", &["GetObject"])])]),
            WriteCoverage::ReadOnly
        );
        assert_eq!(
            advanced(vec![s3_data(vec![field("eventName", "NotEquals", &["PutObject"])])]),
            WriteCoverage::Partial(vec![
                "all buckets (where only CreateMultipartUpload, UploadPart, CompleteMultipartUpload, CopyObject, UploadPartCopy)".into()
            ])
        );
        assert_eq!(
            advanced(vec![s3_data(vec![field("userIdentity.arn", "StartsWith", &["arn:aws:iam::1:role/ci"])])]),
            WriteCoverage::Partial(vec![
                "all buckets (where userIdentity.arn StartsWith arn:aws:iam::1:role/ci)".into()
            ])
        );
        // A second, unrestricted selector covers everything.
        let narrow = s3_data(vec![field("resources.ARN", "StartsWith", &["arn:aws:s3:::a/"])]);
        assert_eq!(advanced(vec![narrow, s3_data(vec![])]), WriteCoverage::All);
        assert_eq!(
            advanced(vec![s3_data(vec![field("errorCode", "NotEquals", &["AccessDenied"])])]),
            WriteCoverage::ReadOnly
        );
    }

    #[test]
    fn warnings_name_what_is_missing() {
        assert_eq!(WriteCoverage::All.warning("t"), None);
        assert!(
            WriteCoverage::None
                .warning("t")
                .unwrap()
                .starts_with("trail t logs no S3 data events: denied PutObject calls are not in its logs")
        );
        assert!(WriteCoverage::ReadOnly.warning("t").unwrap().contains("read-only S3 data events"));
        let w = WriteCoverage::Partial(vec!["arn:aws:s3:::a/".into()]).warning("t").unwrap();
        assert_eq!(
            w,
            "trail t logs S3 write data events only for: arn:aws:s3:::a/; denials elsewhere are not in its logs"
        );
    }

    #[test]
    fn trail_arns_and_prefixes() {
        assert_eq!(
            TrailArn::parse("arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"),
            Some(TrailArn { region: "eu-west-1", account: "111122223333", name: "main" })
        );
        assert_eq!(TrailArn::parse("main"), None);
        assert_eq!(TrailArn::parse("arn:aws:s3:::bucket"), None);
        assert_eq!(
            trail_prefix(None, Some("111122223333"), false, true, "us-east-1"),
            "AWSLogs/111122223333/CloudTrail/"
        );
        assert_eq!(
            trail_prefix(Some("/logs/"), Some("111122223333"), false, false, "eu-west-1"),
            "logs/AWSLogs/111122223333/CloudTrail/eu-west-1/"
        );
        assert_eq!(trail_prefix(Some("org"), Some("111122223333"), true, true, "us-east-1"), "org/AWSLogs/");
        assert_eq!(trail_prefix(Some(""), None, false, true, "us-east-1"), "AWSLogs/");
    }
}
