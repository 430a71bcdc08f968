//! The API sources: `logs://GROUP` (CloudWatch Logs FilterLogEvents) against moto on loopback,
//! and `cloudtrail://lookup` (LookupEvents) against a stand-in.
//!
//! moto 5 does not serve LookupEvents, so `lookup_*` uses **a stand-in**: a small HTTP server in
//! this file that answers as the API reference documents (awsJson1.1, `Events[].CloudTrailEvent`
//! strings, `NextToken` pagination, a `ThrottlingException` first). It is a stand-in, not AWS.

#[allow(unused_imports)] // each test binary uses a different part
mod s3_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatchlogs as logs;
use serde_json::{Value, json};

use s3_support::*;

/// Every readable record of testdata/trail (the truncated file is left out), in file order.
fn trail_records() -> Vec<Value> {
    let mut files: Vec<_> = walk(&testdata_trail());
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.to_string_lossy().into_owned();
        if !name.ends_with(".json.gz") || name.contains("Digest") {
            continue;
        }
        let mut text = String::new();
        if flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_string(&mut text).is_err() {
            continue; // the deliberately truncated file
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        out.extend(v["Records"].as_array().unwrap().iter().cloned());
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

fn logs_client(moto: &Moto) -> logs::Client {
    let creds = logs::config::Credentials::new("testing", "testing", None, None, "tests");
    let sdk = moto.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(logs::config::Region::new(REGION))
            .credentials_provider(creds)
            .endpoint_url(moto.url())
            .load(),
    );
    logs::Client::new(&sdk)
}

/// Puts `messages` into a new group, in batches, as a trail's CloudWatch Logs delivery does.
fn put_group(moto: &Moto, group: &str, messages: &[String]) {
    let client = logs_client(moto);
    moto.block_on(async {
        client.create_log_group().log_group_name(group).send().await.unwrap();
        client
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name("111122223333_CloudTrail_us-east-1")
            .send()
            .await
            .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        for batch in messages.chunks(500) {
            let events: Vec<_> = batch
                .iter()
                .map(|m| logs::types::InputLogEvent::builder().timestamp(now).message(m).build().unwrap())
                .collect();
            client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name("111122223333_CloudTrail_us-east-1")
                .set_log_events(Some(events))
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn logs_group_reads_like_the_trail_it_holds() {
    let moto = Moto::start();
    let records = trail_records();
    let mut messages: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    // Noise a real filter pattern would leave on the server; moto ignores JSON patterns, so it
    // arrives here, and makes the group span several pages of 1,000.
    for i in 0..2_000 {
        messages.push(
            json!({"eventVersion":"1.11","eventID":format!("noise-{i}"),"eventTime":"2026-11-21T10:00:00Z",
                   "eventSource":"s3.amazonaws.com","eventName":"GetObject",
                   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/reader"}})
            .to_string(),
        );
    }
    put_group(&moto, "/aws/cloudtrail/acme", &messages);

    let url = moto.url();
    let from_logs = run(&["scan", "-f", "json", "-q", "--endpoint-url", &url, "logs:///aws/cloudtrail/acme"]);
    assert_eq!(from_logs.code, 0, "{}", from_logs.stderr);
    let logs_report = from_logs.json();
    let trail = testdata_trail();
    let from_files = run(&["scan", "-f", "json", "-q", trail.to_str().unwrap()]);
    assert_eq!(from_files.code, 4, "the truncated file still fails: {}", from_files.stderr);
    let files_report = from_files.json();

    let groups = logs_report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 5, "{logs_report}");
    assert_eq!(logs_report["groups"], files_report["groups"], "the same records, the same report");
    let stats = &logs_report["stats"];
    assert_eq!(stats["records_read"], json!(records.len() + 2_000));
    assert_eq!(stats["files_read"], 3, "3 pages of at most 1,000 events: {stats}");
    assert_eq!(stats["formats"]["log-events"], 3, "{stats}");
    assert_eq!(stats["files_failed"], 0);

    // The same denials through the group and through the files count once.
    let both = run(&[
        "scan",
        "-f",
        "json",
        "-q",
        "--endpoint-url",
        &url,
        "logs:///aws/cloudtrail/acme",
        trail.to_str().unwrap(),
    ]);
    let both = both.json();
    assert_eq!(both["groups"], files_report["groups"]);
    assert_eq!(
        both["stats"]["events_unique"].as_u64().unwrap(),
        files_report["stats"]["events_unique"].as_u64().unwrap()
    );

    // A group that does not exist is a failed input, named; the rest is read.
    let r = run(&["scan", "-f", "json", "-q", "--endpoint-url", &url, "logs:///aws/cloudtrail/acme", "logs://nope"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let failed = &r.json()["stats"]["failed"][0];
    assert_eq!(failed["path"], "logs://nope#1");
    assert!(
        failed["error"].as_str().unwrap().starts_with("cannot read the log group: ResourceNotFoundException"),
        "{failed}"
    );
}

/// The stand-in's pages: what each request got.
struct StandIn {
    url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// A LookupEvents stand-in: throttles the first request, then serves `pages` in order, linked
/// by `NextToken`s `t1`, `t2`, …
fn lookup_stand_in(pages: Vec<Vec<Value>>) -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut target = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-amz-target:") {
                    target = v.trim().to_string();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let n = {
                let mut all = seen.lock().unwrap();
                all.push(json!({"target": target, "body": request.clone()}));
                all.len()
            };
            let (status, answer) = if n == 1 {
                ("400 Bad Request", json!({"__type": "ThrottlingException", "message": "Rate exceeded"}))
            } else {
                let page = request["NextToken"].as_str().map_or(0, |t| t[1..].parse::<usize>().unwrap());
                let events: Vec<Value> = pages[page]
                    .iter()
                    .map(|r| json!({"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": r.to_string()}))
                    .collect();
                let mut answer = json!({"Events": events});
                if page + 1 < pages.len() {
                    answer["NextToken"] = json!(format!("t{}", page + 1));
                }
                ("200 OK", answer)
            };
            let text = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    StandIn { url, requests }
}

#[test]
fn lookup_brings_the_policy_change_behind_data_event_denials() {
    // The data events (ci-deploy's denied writes) are in a local file; the management events
    // that explain them (the PutBucketPolicy, the sessions) come only from LookupEvents.
    let records = trail_records();
    let is = |r: &Value, name: &str| r["eventName"] == name;
    let data: Vec<&Value> = records
        .iter()
        .filter(|r| r["eventSource"] == "s3.amazonaws.com" && !is(r, "PutBucketPolicy") && !is(r, "GetBucketPolicy"))
        .collect();
    let management: Vec<Value> = records
        .iter()
        .filter(|r| r["eventSource"] != "s3.amazonaws.com" || is(r, "PutBucketPolicy"))
        .cloned()
        .collect();
    assert!(management.iter().any(|r| is(r, "PutBucketPolicy")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data-events.ndjson");
    std::fs::write(&file, data.iter().map(|r| format!("{r}\n")).collect::<String>()).unwrap();
    let file = file.to_str().unwrap();

    let half = management.len() / 2;
    let stand_in = lookup_stand_in(vec![management[..half].to_vec(), management[half..].to_vec()]);
    let with = run(&[
        "scan",
        "-f",
        "json",
        "-q",
        "--endpoint-url",
        &stand_in.url,
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-23",
        "cloudtrail://lookup",
        file,
    ]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    let without = run(&["scan", "-f", "json", "-q", "--since", "2026-11-20", "--until", "2026-11-23", file]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    let ci = |report: &Value| -> Value {
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["principal"] == "arn:aws:iam::111122223333:role/ci-deploy")
            .cloned()
            .expect("the ci-deploy group")
    };
    let (with, without) = (with.json(), without.json());
    assert_eq!(ci(&with)["denied"], 24);
    assert_eq!(ci(&with)["denied"], ci(&without)["denied"], "LookupEvents adds no data events");
    assert!(ci(&with)["causes"].as_str().unwrap().contains("recent-policy-change"), "{}", ci(&with));
    assert!(!ci(&without)["causes"].as_str().unwrap().contains("recent-policy-change"), "{}", ci(&without));
    assert!(ci(&with)["evidence"].as_str().unwrap().contains("DenyUnencryptedBuildUploads"), "{}", ci(&with));
    assert_eq!(with["stats"]["formats"]["lookup-events"], 2, "{}", with["stats"]);

    // The stand-in saw: one throttled request (retried by the SDK), then two pages, the second
    // asked for with the first's NextToken, each over the --since/--until window.
    let requests = stand_in.requests.lock().unwrap();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests.iter().all(|r| r["target"].as_str().unwrap().ends_with(".lookupevents")), "{requests:?}");
    assert_eq!(requests[2]["body"]["NextToken"], "t1");
    assert!(requests[1]["body"].get("NextToken").is_none());
    let start = requests[1]["body"]["StartTime"].as_f64().unwrap();
    assert_eq!(start as i64, chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap().timestamp());
}

#[test]
fn s3_keys_with_every_special_character_are_listed_and_read() {
    // Keys S3 allows but URLs, shells and signers trip on: spaces, `+`, `%`, `?`, `#`, `&`, `=`,
    // quotes, backslashes, unicode, a control character, and `//`.
    let keys = [
        "logs/with space.json",
        "logs/plus+sign.json",
        "logs/percent%20lit.json",
        "logs/q?mark=1&amp.json",
        "logs/hash#frag.json",
        "logs/quote\"'`.json",
        "logs/back\\slash.json",
        "logs/ünïcödé-日本.json",
        "logs/ctrl\u{1}char.json",
        "logs//double/slash.json",
        "logs/~tilde!*()$@:;,.json",
    ];
    let moto = Moto::start();
    moto.create_bucket("odd-keys", REGION);
    let objects: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let r = json!({"eventVersion":"1.11","eventID":format!("k{i}"),"eventTime":"2026-11-21T10:00:00Z",
                "eventSource":"s3.amazonaws.com","eventName":"PutObject","errorCode":"AccessDenied",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u"},
                "requestParameters":{"bucketName":"b","key":format!("d{i}/x")}});
            (k.to_string(), json!({"Records": [r]}).to_string().into_bytes())
        })
        .collect();
    moto.put_all("odd-keys", objects);
    let r = run(&["scan", "-f", "json", "-q", "--endpoint-url", &moto.url(), "s3://odd-keys/logs/"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["stats"]["files_read"], keys.len(), "{}", report["stats"]);
    assert_eq!(report["stats"]["events_unique"], keys.len());
    assert_eq!(report["groups"].as_array().unwrap().len(), keys.len());
    // The control character in a key is shown escaped, never raw, on the terminal's stderr.
    let r = run(&["scan", "--endpoint-url", &moto.url(), "-f", "csv", "s3://odd-keys/logs/ctrl\u{1}char.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains('\u{1}'));
}
