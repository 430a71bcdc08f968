#!/usr/bin/env python3
"""Write the envelope fixtures of tests/envelopes.rs (issue 14): CloudTrail records as they reach
disk through CloudWatch Logs + Firehose, EventBridge, and the AWS CLI.

    python3 testdata/envelopes/build_envelopes.py

Python 3 standard library only; deterministic (fixed ids and times, gzip with mtime=0). The
envelope shapes follow the AWS documentation named in README.txt; the records inside are synthetic
S3 data and management events in CloudTrail's record shape.
"""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "111122223333"
REGION = "us-east-1"
BASE_MS = 1795255200000  # 2026-11-21T10:00:00Z


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(event_id, n, name="PutObject", error="AccessDenied", source="s3.amazonaws.com", management=False):
    rec = {
        "eventVersion": "1.11",
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAEXAMPLEROLEID:ci-runner",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/uploader/ci-runner", "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY00001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID",
                                                 "arn": f"arn:aws:iam::{ACCOUNT}:role/uploader",
                                                 "accountId": ACCOUNT, "userName": "uploader"},
                               "attributes": {"creationDate": "2026-11-21T09:55:00Z", "mfaAuthenticated": "false"}},
        },
        "eventTime": iso(BASE_MS + n * 1000),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-cli/2.22.0 md/command#s3.cp",
    }
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = "Access Denied" if source == "s3.amazonaws.com" else "User is not authorized"
    if management:
        rec["requestParameters"] = {"bucketName": "acme-artifacts", "Host": "acme-artifacts.s3.amazonaws.com", "policy": ""}
    else:
        key = f"builds/{n:03d}/app.tar.gz"
        rec["requestParameters"] = {"bucketName": "acme-artifacts", "Host": "acme-artifacts.s3.us-east-1.amazonaws.com",
                                    "key": key}
        rec["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::acme-artifacts/{key}"},
                            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-artifacts"}]
    rec.update({
        "responseElements": None,
        "requestID": f"REQ{n:013d}",
        "eventID": event_id,
        "readOnly": name.startswith("Get"),
        "eventType": "AwsApiCall",
        "managementEvent": management,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management" if management else "Data",
    })
    return rec


def denied(n):
    return record(f"0d0e0000-0000-4000-8000-{n:012d}", n)


def harmless(n):
    return record(f"0a0a0000-0000-4000-8000-{n:012d}", 100 + n, name="GetObject", error=None)


POLICY_CHANGE = record("0b0b0000-0000-4000-8000-000000000001", 200, name="PutBucketPolicy", error=None, management=True)
POLICY_DENIED = record("0b0b0000-0000-4000-8000-000000000002", 201, name="PutBucketPolicy", management=True)


def cwl_data(records, first_id):
    """One CloudWatch Logs subscription message, decoded (the shape of the CloudWatch Logs User
    Guide's subscription filter examples): CloudTrail's log group puts one record per event."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "aws-cloudtrail-logs-111122223333",
        "logStream": f"{ACCOUNT}_CloudTrail_{REGION}",
        "subscriptionFilters": ["cloudtrail-to-firehose"],
        "logEvents": [
            {"id": str(37000000000000000000000000000000000000000000000000000000 + first_id + i),
             "timestamp": BASE_MS + (first_id + i) * 1000,
             "message": json.dumps(r, separators=(",", ":"))}
            for i, r in enumerate(records)
        ],
    }


CWL_CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [{"id": "", "timestamp": BASE_MS - 60000,
                   "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}],
}


def eventbridge(rec, n, detail_type="AWS API Call via CloudTrail", source="aws.s3"):
    """One EventBridge event (EventBridge User Guide, "AWS service events delivered via AWS
    CloudTrail"): the CloudTrail record is the event's `detail`."""
    return {"version": "0", "id": f"6f1e3b2c-0000-4000-9000-{n:012d}", "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": rec.get("eventTime", iso(BASE_MS)), "region": REGION, "resources": [],
            "detail": rec}


def filtered_log_event(rec, n):
    """An element of `aws logs filter-log-events` output (API FilteredLogEvent)."""
    return {"logStreamName": f"{ACCOUNT}_CloudTrail_{REGION}", "timestamp": BASE_MS + n * 1000,
            "message": json.dumps(rec, separators=(",", ":")), "ingestionTime": BASE_MS + n * 1000 + 5000,
            "eventId": str(37000000000000000000000000000000000000000000000000000000 + n)}


def lookup_event(rec):
    """An element of `aws cloudtrail lookup-events` output (API Event)."""
    return {"EventId": rec["eventID"], "EventName": rec["eventName"], "ReadOnly": "false",
            "AccessKeyId": rec["userIdentity"]["accessKeyId"], "EventTime": rec["eventTime"].replace("Z", "+00:00"),
            "EventSource": rec["eventSource"], "Username": "ci-runner",
            "Resources": [{"ResourceType": "AWS::S3::Bucket", "ResourceName": "acme-artifacts"}],
            "CloudTrailEvent": json.dumps(rec, separators=(",", ":"))}


def gz(data):
    return gzip.compress(data, mtime=0)


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    compact = lambda v: json.dumps(v, separators=(",", ":")).encode()
    # 30 denied PutObjects (0..29) in three subscription messages, after the control message CloudWatch
    # Logs sends when the subscription is created. CloudWatch Logs gzips each message and Firehose
    # concatenates them without a separator, into an object named without an extension.
    messages = [CWL_CONTROL]
    for m in range(3):
        recs = [denied(m * 10 + i) for i in range(10)] + [harmless(m * 2), harmless(m * 2 + 1)]
        if m == 2:
            recs.append(POLICY_CHANGE)
        messages.append(cwl_data(recs, m * 100))
    write("issue14/firehose/2026/11/21/10/cloudtrail-to-s3-1-2026-11-21-10-05-12-5d1c3a4e-7f0b-4c8e-9a2d-3b6e1f0c9d87",
          b"".join(gz(compact(m)) for m in messages))
    # 10 more denials (30..39), and 3 copies of CloudWatch Logs ones (0..2) through EventBridge,
    # one event per line, with an event of another type in between.
    events = [eventbridge(denied(n), n) for n in range(30, 40)]
    events.insert(4, eventbridge({"bucket": {"name": "acme-artifacts"}, "object": {"key": "x"}}, 99,
                                 detail_type="Object Created"))
    events += [eventbridge(denied(n), 50 + n) for n in range(3)]
    write("issue14/eventbridge/2026-11-21.ndjson", b"".join(compact(e) + b"\n" for e in events))
    # The runbook's first command: 5 denials already in the Firehose object (3..7), and 2 reads.
    out = {"events": [filtered_log_event(denied(n), n) for n in range(3, 8)] +
                     [filtered_log_event(harmless(n), 100 + n) for n in range(2)],
           "searchedLogStreams": [{"logStreamName": f"{ACCOUNT}_CloudTrail_{REGION}", "searchedCompletely": True}]}
    write("issue14/cli/filter-log-events.json", json.dumps(out, indent=4).encode() + b"\n")
    # Event history holds management events only: the policy change (also in CloudWatch Logs) and a
    # denied PutBucketPolicy, which the default filter (S3 object writes) does not count.
    out = {"Events": [lookup_event(POLICY_DENIED), lookup_event(POLICY_CHANGE)]}
    write("issue14/cli/lookup-events.json", json.dumps(out, indent=4).encode() + b"\n")
    # A CloudTrail Lake query result saved by `aws cloudtrail get-query-results` (rows are string
    # maps of the selected columns): not a shape denytrail reads.
    out = {"QueryStatus": "FINISHED",
           "QueryStatistics": {"ResultsCount": 1, "TotalResultsCount": 1, "BytesScanned": 1024},
           "QueryResultRows": [[{"eventID": denied(0)["eventID"]}, {"eventName": "PutObject"},
                                {"errorCode": "AccessDenied"},
                                {"userIdentity": "{type=AssumedRole, principalid=AROAEXAMPLEROLEID:ci-runner}"}]]}
    write("lake/get-query-results.json", json.dumps(out, indent=4).encode() + b"\n")


if __name__ == "__main__":
    main()
