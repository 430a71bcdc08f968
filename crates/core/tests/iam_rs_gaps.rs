//! What iam-rs 0.8.0 does on its own with the constructs denytrail's policy layer works around
//! (see `policy::statement`). When an upgrade makes one of these fail, the library has caught up and
//! the workaround (and its corpus case "iam-rs gap: …") can be reviewed.

use iam_rs::{Arn, Decision, IAMPolicy, IAMRequest, Principal, PrincipalId, evaluate_policy};

fn parses(json: &str) -> bool {
    serde_json::from_str::<IAMPolicy>(json).is_ok()
}

fn decide(policy: &str, principal: &str) -> Decision {
    let policy: IAMPolicy = serde_json::from_str(policy).expect("policy");
    let request = IAMRequest::new(
        Principal::Aws(PrincipalId::String(principal.into())),
        "s3:PutObject",
        Arn::parse("arn:aws:s3:::b/k").expect("arn"),
    );
    evaluate_policy(&policy, &request).expect("evaluation")
}

#[test]
fn policy_iam_rs_rejects_whole_policies_for() {
    // AWS accepts all four; iam-rs 0.8.0 rejects the whole document.
    assert!(!parses(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333","Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}]}"#
    ));
    assert!(!parses(r#"{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#));
    assert!(!parses(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEqualsIfExists":{"k":"v"}}}]}"#
    ));
    assert!(!parses(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:TlsVersion":[1.2]}}}]}"#
    ));
}

#[test]
fn policy_iam_rs_compares_principals_as_plain_strings() {
    // AWS: an account principal covers the account's roles (delegation), and a role ARN covers its
    // sessions. iam-rs 0.8.0 matches neither.
    let account = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:PutObject","Resource":"*"}]}"#;
    assert_eq!(decide(account, "arn:aws:iam::111122223333:role/app"), Decision::NotApplicable);
    let role = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:PutObject","Resource":"*"}]}"#;
    assert_eq!(decide(role, "arn:aws:sts::111122223333:assumed-role/app/s1"), Decision::NotApplicable);
}
