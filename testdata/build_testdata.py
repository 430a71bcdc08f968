#!/usr/bin/env python3
"""Build the synthetic CloudTrail log-archive tree used by denytrail's tests.

    python3 testdata/build_testdata.py            # (re)write testdata/trail/ and print the summary
    python3 testdata/build_testdata.py --check    # only re-scan the existing tree and print the summary

Python 3 standard library only.  Deterministic: every random value (UUIDs, request IDs, access keys,
file-name suffixes, record order inside a file) comes from one random.Random(SEED); gzip is written
with mtime=0 and no file name, so two runs produce byte-identical files (with the same zlib).

The tree imitates an S3 log-archive bucket (`acme-log-archive`) that receives the trails of three
accounts:
    111122223333  "prod" workload account (bucket acme-artifacts, us-east-1; acme-logs-eu, eu-west-1)
    444455556666  data account            (bucket acme-data-lake, us-east-1; acme-data-lake-eu, eu-west-1)
    777788889999  partner account         (role partner-sync, writes cross-account into acme-data-lake)

After writing, the script scans what it wrote with a small reference model of the report.md contract
(no hand-typed numbers) and prints the expected counts as Markdown; EXPECTED.md quotes that output.
"""
import base64
import gzip
import hashlib
import json
import os
import random
import shutil
import string
import sys
import uuid
import zlib
from datetime import datetime, timedelta, timezone

SEED = 20261121
HERE = os.path.dirname(os.path.abspath(__file__))
TRAIL = os.path.join(HERE, "trail")

ARCHIVE_BUCKET = "acme-log-archive"
TRAIL_NAME = "org-trail"
PROD, DATA, PARTNER = "111122223333", "444455556666", "777788889999"
USE1, EUW1 = "us-east-1", "eu-west-1"
EV = "1.11"

rng = random.Random(SEED)

# --------------------------------------------------------------------------- random identifiers
UPPER_DIGITS = string.ascii_uppercase + string.digits
B32 = string.ascii_uppercase + "234567"
ALNUM = string.ascii_letters + string.digits


def rchars(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def new_uuid():
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def s3_request_id():
    return rchars(UPPER_DIGITS, 16)


def amz_id2():
    return base64.b64encode(rng.getrandbits(56 * 8).to_bytes(56, "big")).decode()


def akia():
    return "AKIA" + rchars(B32, 16)


def asia():
    return "ASIA" + rchars(B32, 16)


def aida():
    return "AIDA" + rchars(B32, 17)


def aroa():
    return "AROA" + rchars(B32, 17)


def instance_id():
    return "i-0" + "%016x" % rng.getrandbits(64)


def session_token():
    return "IQoJb3JpZ2luX2VjE" + base64.b64encode(rng.getrandbits(3000).to_bytes(375, "big")).decode()


# --------------------------------------------------------------------------- time helpers
def T(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def sts_expiration(d):
    # CloudTrail prints STS expirations like "Jul 10, 2023, 12:09:47 PM"
    h = d.hour % 12 or 12
    return "%s %d, %d, %d:%s %s" % (d.strftime("%b"), d.day, d.year, h, d.strftime("%M:%S"),
                                     "AM" if d.hour < 12 else "PM")


# --------------------------------------------------------------------------- identities
def iam_user(acct, name, pid, key, console_created=None):
    u = {"type": "IAMUser", "principalId": pid, "arn": "arn:aws:iam::%s:user/%s" % (acct, name),
         "accountId": acct, "accessKeyId": key, "userName": name}
    if console_created is not None:
        u["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                               "attributes": {"creationDate": iso(console_created), "mfaAuthenticated": "true"}}
    return u


class Role:
    def __init__(self, acct, path_name):
        self.acct = acct
        self.path_name = path_name                      # e.g. "ci-deploy" or "aws-reserved/sso.amazonaws.com/X"
        self.name = path_name.split("/")[-1]
        self.role_id = aroa()
        self.arn = "arn:aws:iam::%s:role/%s" % (acct, path_name)

    def session(self, name, key, created, ec2=False, invoked_by=None):
        ctx = {"sessionIssuer": {"type": "Role", "principalId": self.role_id, "arn": self.arn,
                                 "accountId": self.acct, "userName": self.name},
               "webIdFederationData": {},
               "attributes": {"creationDate": iso(created), "mfaAuthenticated": "false"}}
        if ec2:
            ctx["ec2RoleDelivery"] = "2.0"
        u = {"type": "AssumedRole", "principalId": "%s:%s" % (self.role_id, name),
             "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (self.acct, self.name, name),
             "accountId": self.acct, "accessKeyId": key, "sessionContext": ctx}
        if invoked_by:
            u["invokedBy"] = invoked_by
        return u


def with_invoked_by(ident, svc):
    u = json.loads(json.dumps(ident))
    u["invokedBy"] = svc
    return u


ANONYMOUS = {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
CLOUDTRAIL_SVC = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}

# --------------------------------------------------------------------------- user agents
UA_CLI_MAC = ("aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 "
              "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#%s")
UA_CLI_CI = ("aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64 lang/python#3.12.6 "
             "md/pyimpl#CPython exec-env/EC2 cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 "
             "md/prompt#off md/command#%s")
UA_CONSOLE_S3 = ("S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.779 Linux/5.10.228-198.884.amzn2int.x86_64 "
                 "OpenJDK_64-Bit_Server_VM/25.432-b06 java/1.8.0_432 vendor/Oracle_Corporation cfg/retry-mode/standard")
UA_BOTO_LAMBDA = ("Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227-239.874.amzn2.x86_64 md/arch#x86_64 "
                  "lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy "
                  "Botocore/1.35.36")
UA_GLUE = ("aws-sdk-java/2.25.60 Linux/5.10.228-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.13+11-LTS "
           "Java/17.0.13 vendor/Amazon.com_Inc. exec-env/AWS_Glue io/sync http/Apache cfg/retry-mode/standard")
UA_SHIPPER = "aws-sdk-rust/1.5.10 os/linux lang/rust/1.83.0 md/rustc#1.83.0 vector/0.43.1"
UA_GO = ("aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/%s m/E,Z")
UA_CONSOLE_IAM = "AWS Internal"
ESC = "\x1b"
# Attacker-controlled text inside a TARGET record: a raw terminal escape in a ci-deploy user agent.
UA_CI_ESCAPE = (UA_CLI_CI % "s3.cp") + " build/107 " + ESC + "[31mDEPLOY FAILED" + ESC + "[0m"
# Attacker-controlled text inside a TARGET record: a CSV-formula key (contains '/' inside the formula).
FORMULA_KEY = 'releases/v2/=HYPERLINK("http://x")'

# --------------------------------------------------------------------------- principals
ALICE = iam_user(PROD, "alice", aida(), akia())
ADMIN_PID, ADMIN_KEY = aida(), asia()
CI_RUNNER = Role(PROD, "ci-runner")
CI_DEPLOY = Role(PROD, "ci-deploy")
NIGHTLY = Role(PROD, "nightly-backup")
SHIPPER = Role(PROD, "log-shipper")
ANALYTICS = Role(PROD, "analytics-reader")
WEBAPP = Role(PROD, "web-app")
SSO_DE = Role(DATA, "aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataEngineer_0123456789abcdef")
GLUE = Role(DATA, "service-role/glue-etl")
PARTNER_SYNC = Role(PARTNER, "partner-sync")
SYNC_BOT = iam_user(PARTNER, "sync-bot", aida(), akia())

RUNNERS = [(instance_id(), "10.20.1.11"), (instance_id(), "10.20.2.37"), (instance_id(), "10.20.3.54")]
RUNNER_KEYS = [asia() for _ in RUNNERS]
RUNNER_CREATED = T("2026-11-20T06:12:40Z")
VPCE_PROD = "vpce-0c4f2a9e81b35d7e6"

KMS_ARTIFACTS = "arn:aws:kms:us-east-1:%s:key/%s" % (PROD, new_uuid())
KMS_SSM = "arn:aws:kms:us-east-1:%s:key/%s" % (PROD, new_uuid())
KMS_LAKE = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_LAKE_EU = "arn:aws:kms:eu-west-1:%s:key/%s" % (DATA, new_uuid())

ALICE_IP, ADMIN_IP = "203.0.113.45", "203.0.113.10"
JANE_IP, ANON_IP, PARTNER_IP = "198.51.100.61", "198.51.100.23", "192.0.2.140"


def runner(i):
    iid, ip = RUNNERS[i]
    return CI_RUNNER.session(iid, RUNNER_KEYS[i], RUNNER_CREATED, ec2=True), ip


# --------------------------------------------------------------------------- record builders
def tls(host):
    return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}


def s3_data(ident, when, region, name, bucket, key, recipient, *, owner, ip, ua, error=None, message=None,
            extra_rp=None, resp=None, signed=True, bytes_in=0, bytes_out=0, sse_applied=None, vpce=None,
            shared=None, request_id=None, id2=None, part=None, upload_id=None, service_call=False):
    """An S3 object-level data event. `owner` = accountId put on the AWS::S3::Bucket resource (None = absent)."""
    host = "%s.s3.%s.amazonaws.com" % (bucket, region)
    rp = {"bucketName": bucket, "Host": host}
    if name == "CreateMultipartUpload":
        rp["uploads"] = ""
    if name == "UploadPart":
        rp["partNumber"] = str(part)
        rp["uploadId"] = upload_id
    if extra_rp:
        rp.update(extra_rp)
    rp["key"] = key
    aed = {}
    if signed:
        aed["SignatureVersion"] = "SigV4"
    aed["CipherSuite"] = "TLS_AES_128_GCM_SHA256"
    aed["bytesTransferredIn"] = bytes_in
    if sse_applied:
        aed["SSEApplied"] = sse_applied
    if signed:
        aed["AuthenticationMethod"] = "AuthHeader"
    aed["x-amz-id-2"] = id2 or amz_id2()
    aed["bytesTransferredOut"] = bytes_out
    r = {"eventVersion": EV, "userIdentity": ident, "eventTime": iso(when), "eventSource": "s3.amazonaws.com",
         "eventName": name, "awsRegion": region, "sourceIPAddress": ip,
         "userAgent": ua if service_call else "[%s]" % ua}
    if error:
        r["errorCode"] = error
        r["errorMessage"] = message
    r["requestParameters"] = rp
    r["responseElements"] = resp
    r["additionalEventData"] = aed
    r["requestID"] = request_id or s3_request_id()
    r["eventID"] = new_uuid()
    r["readOnly"] = name in ("GetObject", "HeadObject")
    bucket_res = {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}
    if owner:
        bucket_res = {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}
    r["resources"] = [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)}, bucket_res]
    r["eventType"] = "AwsApiCall"
    r["managementEvent"] = False
    r["recipientAccountId"] = recipient
    if shared:
        r["sharedEventID"] = shared
    if vpce:
        r["vpcEndpointId"] = vpce
        r["vpcEndpointAccountId"] = recipient
    r["eventCategory"] = "Data"
    if not service_call:
        r["tlsDetails"] = tls(host)
    return r


def mgmt(ident, when, region, source, name, rp, resp, recipient, *, ip, ua, error=None, message=None,
         read_only=True, resources=None, tls_host=None, additional=None, request_id=None, vpce=None,
         console=False):
    r = {"eventVersion": EV, "userIdentity": ident, "eventTime": iso(when), "eventSource": source,
         "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": ua}
    if error:
        r["errorCode"] = error
        r["errorMessage"] = message
    r["requestParameters"] = rp
    r["responseElements"] = resp
    if additional is not None:
        r["additionalEventData"] = additional
    r["requestID"] = request_id or new_uuid()
    r["eventID"] = new_uuid()
    r["readOnly"] = read_only
    if resources:
        r["resources"] = resources
    r["eventType"] = "AwsApiCall"
    r["managementEvent"] = True
    r["recipientAccountId"] = recipient
    if vpce:
        r["vpcEndpointId"] = vpce
        r["vpcEndpointAccountId"] = recipient
    r["eventCategory"] = "Management"
    if tls_host:
        r["tlsDetails"] = tls(tls_host)
    if console:
        r["sessionCredentialFromConsole"] = "true"
    return r


def s3_mgmt(ident, when, region, name, bucket, recipient, *, ip, ua, extra_rp=None, owner=None, read_only=True,
            bytes_in=0, bytes_out=0, console=False):
    host = "%s.s3.%s.amazonaws.com" % (bucket, region) if bucket else "s3.%s.amazonaws.com" % region
    rp = {}
    if extra_rp and "bucketPolicy" in extra_rp:
        rp["bucketPolicy"] = extra_rp["bucketPolicy"]
    if bucket:
        rp["bucketName"] = bucket
    rp["Host"] = host
    for k, v in (extra_rp or {}).items():
        if k != "bucketPolicy":
            rp[k] = v
    aed = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": bytes_in,
           "AuthenticationMethod": "AuthHeader", "x-amz-id-2": amz_id2(), "bytesTransferredOut": bytes_out}
    res = [{"accountId": owner, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}] if bucket else None
    return mgmt(ident, when, region, "s3.amazonaws.com", name, rp, None, recipient, ip=ip, ua="[%s]" % ua,
                read_only=read_only, resources=res, tls_host=host, additional=aed, request_id=s3_request_id(),
                console=console)


def kms_res(key_arn):
    acct = key_arn.split(":")[4]
    return [{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key_arn}]


def assume_role(caller, when, role, session, key, recipient, *, ip, ua, duration=3600):
    exp = when + timedelta(seconds=duration)
    rp = {"roleArn": role.arn, "roleSessionName": session, "durationSeconds": duration}
    resp = {"credentials": {"accessKeyId": key, "sessionToken": session_token(), "expiration": sts_expiration(exp)},
            "assumedRoleUser": {"assumedRoleId": "%s:%s" % (role.role_id, session),
                                "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (role.acct, role.name, session)}}
    return mgmt(caller, when, USE1, "sts.amazonaws.com", "AssumeRole", rp, resp, recipient, ip=ip, ua=ua,
                resources=[{"accountId": role.acct, "type": "AWS::IAM::Role", "ARN": role.arn}],
                tls_host="sts.us-east-1.amazonaws.com")


def describe_instances(ident, when, region, recipient, *, ip, ua, tag):
    rp = {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:Role", "valueSet": {"items": [{"value": tag}]}}]}}
    return mgmt(ident, when, region, "ec2.amazonaws.com", "DescribeInstances", rp, None, recipient, ip=ip, ua=ua,
                tls_host="ec2.%s.amazonaws.com" % region)


def s3_msg(arn, action, bucket, key, reason):
    return 'User: %s is not authorized to perform: %s on resource: "arn:aws:s3:::%s/%s" %s' % (
        arn, action, bucket, key, reason)


def log_key(acct, region, when, suffix):
    return "AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz" % (
        acct, region, when.strftime("%Y/%m/%d"), acct, region, when.strftime("%Y%m%dT%H%MZ"), suffix)


def cloudtrail_delivery(when, acct, region):
    """CloudTrail writing a log file into the archive bucket (logged because the trail selects all buckets)."""
    key = log_key(acct, region, when.replace(second=0), rchars(ALNUM, 16))
    size = rng.randint(900, 48000)
    return s3_data(CLOUDTRAIL_SVC, when, USE1, "PutObject", ARCHIVE_BUCKET, key, PROD, owner=PROD,
                   ip="cloudtrail.amazonaws.com", ua="cloudtrail.amazonaws.com", service_call=True,
                   extra_rp={"x-amz-acl": "bucket-owner-full-control", "x-amz-server-side-encryption": "AES256"},
                   resp={"x-amz-server-side-encryption": "AES256"}, bytes_in=size, sse_applied="Default_SSE_S3")


def put_ok(ident, when, region, bucket, key, recipient, *, owner, ip, ua, kms=None, vpce=None, size=None):
    size = size if size is not None else rng.randint(512, 4_000_000)
    if kms:
        extra = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": kms}
        resp = {"x-amz-server-side-encryption-aws-kms-key-id": kms, "x-amz-server-side-encryption": "aws:kms"}
        sse = "SSE_KMS"
    else:
        extra, resp, sse = None, {"x-amz-server-side-encryption": "AES256"}, "Default_SSE_S3"
    return s3_data(ident, when, region, "PutObject", bucket, key, recipient, owner=owner, ip=ip, ua=ua,
                   extra_rp=extra, resp=resp, bytes_in=size, sse_applied=sse, vpce=vpce)


# =========================================================================== the scenario
files = []          # (account, region, delivery datetime, [records], description, kind)


def add_file(acct, region, delivery, records, desc, kind="log"):
    files.append((acct, region, T(delivery), records, desc, kind))


# ---- ci-deploy sessions -------------------------------------------------------------------------
CI_SESSIONS = {}     # build number -> (identity, runner ip, runner index)


def ci_session(n, assumed_at):
    key = asia()
    ident = CI_DEPLOY.session("build-%03d" % n, key, assumed_at)
    ri = n % 3
    caller, rip = runner(ri)
    ar = assume_role(caller, assumed_at, CI_DEPLOY, "build-%03d" % n, key, PROD, ip=rip,
                     ua=UA_CLI_CI % "sts.assume-role")
    CI_SESSIONS[n] = (ident, rip)
    return ident, rip, ar


CI_REASON = "with an explicit deny in a resource-based policy"


def ci_denied(n, when, name, key, ua=None, part=None, upload_id=None):
    ident, rip = CI_SESSIONS[n]
    return s3_data(ident, when, USE1, name, "acme-artifacts", key, PROD, owner=PROD, ip=rip,
                   ua=ua or (UA_CLI_CI % "s3.cp"), error="AccessDenied",
                   message=s3_msg(ident["arn"], "s3:PutObject", "acme-artifacts", key, CI_REASON),
                   vpce=VPCE_PROD, part=part, upload_id=upload_id)


ALICE_REASON = "because no identity-based policy allows the s3:PutObject action"


def alice_denied(when, key):
    return s3_data(ALICE, when, USE1, "PutObject", "acme-artifacts", key, PROD, owner=PROD, ip=ALICE_IP,
                   ua=UA_CLI_MAC % "s3.cp", error="AccessDenied",
                   message=s3_msg(ALICE["arn"], "s3:PutObject", "acme-artifacts", key, ALICE_REASON))


# ---- A1  prod us-east-1, 2026-11-20 14:15 ---------------------------------------------------------
r0, r0ip = runner(0)
b099, b099ip, ar099 = ci_session(99, T("2026-11-20T14:04:00Z"))
a1 = [
    mgmt(ALICE, T("2026-11-20T14:01:05Z"), USE1, "iam.amazonaws.com", "GetUser", None, None, PROD,
         ip=ALICE_IP, ua=UA_CLI_MAC % "iam.get-user", tls_host="iam.amazonaws.com"),
    s3_mgmt(ALICE, T("2026-11-20T14:01:20Z"), USE1, "ListBuckets", None, PROD, ip=ALICE_IP,
            ua=UA_CLI_MAC % "s3.ls", bytes_out=1843),
    put_ok(ALICE, T("2026-11-20T14:02:11Z"), USE1, "acme-artifacts", "docs/index.html", PROD, owner=PROD,
           ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp"),
    put_ok(ALICE, T("2026-11-20T14:02:12Z"), USE1, "acme-artifacts", "docs/guide.html", PROD, owner=PROD,
           ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp"),
    put_ok(ALICE, T("2026-11-20T14:02:14Z"), USE1, "acme-artifacts", "docs/api.html", PROD, owner=PROD,
           ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp"),
    describe_instances(r0, T("2026-11-20T14:02:40Z"), USE1, PROD, ip=r0ip, ua=UA_CLI_CI % "ec2.describe-instances",
                       tag="ci-runner"),
    mgmt(with_invoked_by(r0, "ssm.amazonaws.com"), T("2026-11-20T14:03:50Z"), USE1, "kms.amazonaws.com", "Decrypt",
         {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
          "encryptionContext": {"PARAMETER_ARN": "arn:aws:ssm:us-east-1:%s:parameter/ci/npm-token" % PROD}},
         None, PROD, ip="ssm.amazonaws.com", ua="ssm.amazonaws.com", resources=kms_res(KMS_SSM)),
    ar099,
    put_ok(b099, T("2026-11-20T14:04:30Z"), USE1, "acme-artifacts", "builds/099/app.tar.gz", PROD, owner=PROD,
           ip=b099ip, ua=UA_CLI_CI % "s3.cp", vpce=VPCE_PROD),
    put_ok(b099, T("2026-11-20T14:05:10Z"), USE1, "acme-artifacts", "builds/099/manifest.json", PROD, owner=PROD,
           ip=b099ip, ua=UA_CLI_CI % "s3.cp", vpce=VPCE_PROD, size=2210),
    cloudtrail_delivery(T("2026-11-20T14:06:02Z"), PROD, USE1),
    cloudtrail_delivery(T("2026-11-20T14:11:07Z"), DATA, USE1),
]
add_file(PROD, USE1, "2026-11-20T14:15:00Z", a1,
         "noise: alice GetUser/ListBuckets + 3 PutObject OK (docs/), ci-runner DescribeInstances, kms Decrypt OK "
         "(via ssm), AssumeRole build-099, build-099 2 PutObject OK (builds/099/, last success before the policy "
         "change), 2 CloudTrail deliveries")

# ---- A2  prod us-east-1, delivered 2026-11-21 00:05, all records from 2026-11-20 ----------------------
nb = NIGHTLY.session("nightly-backup-fn", asia(), T("2026-11-20T23:50:02Z"))
b098 = CI_DEPLOY.session("build-098", asia(), T("2026-11-20T22:48:31Z"))
b098_key = "builds/098/app.tar.gz"
a2 = [
    put_ok(nb, T("2026-11-20T23:51:12Z"), USE1, "acme-backups", "nightly/2026-11-20/db.dump.part1", PROD,
           owner=PROD, ip="198.51.100.77", ua=UA_BOTO_LAMBDA),
    put_ok(nb, T("2026-11-20T23:51:40Z"), USE1, "acme-backups", "nightly/2026-11-20/db.dump.part2", PROD,
           owner=PROD, ip="198.51.100.77", ua=UA_BOTO_LAMBDA),
    put_ok(nb, T("2026-11-20T23:52:05Z"), USE1, "acme-backups", "nightly/2026-11-20/MANIFEST", PROD,
           owner=PROD, ip="198.51.100.77", ua=UA_BOTO_LAMBDA, size=412),
    s3_data(b098, T("2026-11-20T23:53:17Z"), USE1, "PutObject", "acme-artifacts", b098_key, PROD, owner=PROD,
            ip=RUNNERS[2][1], ua=UA_CLI_CI % "s3.cp", error="ExpiredToken",
            message="The provided token has expired.", vpce=VPCE_PROD),
    s3_data(ALICE, T("2026-11-20T23:55:48Z"), USE1, "GetObject", "acme-artifacts", "releases/v1/app.zip", PROD,
            owner=PROD, ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp", error="AccessDenied",
            message=s3_msg(ALICE["arn"], "s3:GetObject", "acme-artifacts", "releases/v1/app.zip",
                           "because no identity-based policy allows the s3:GetObject action")),
    cloudtrail_delivery(T("2026-11-20T23:56:31Z"), PROD, EUW1),
]
add_file(PROD, USE1, "2026-11-21T00:05:00Z", a2,
         "delivered after midnight, every record from 2026-11-20 23:51-23:56: nightly-backup 3 PutObject OK, "
         "ci-deploy build-098 PutObject **ExpiredToken**, alice **GetObject** AccessDenied, 1 CloudTrail delivery")

# ---- A3  prod us-east-1, 09:00 : the policy change ----------------------------------------------------
admin = iam_user(PROD, "admin", ADMIN_PID, ADMIN_KEY, console_created=T("2026-11-21T08:41:09Z"))
r1, r1ip = runner(1)
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyUnencryptedBuildUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::acme-artifacts/builds/*",
     "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::acme-artifacts", "arn:aws:s3:::acme-artifacts/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
b101, b101ip, ar101 = ci_session(101, T("2026-11-21T08:59:40Z"))
a3 = [
    describe_instances(r1, T("2026-11-21T08:47:12Z"), USE1, PROD, ip=r1ip, ua=UA_CLI_CI % "ec2.describe-instances",
                       tag="ci-runner"),
    cloudtrail_delivery(T("2026-11-21T08:50:33Z"), PROD, USE1),
    s3_mgmt(admin, T("2026-11-21T08:53:40Z"), USE1, "ListBuckets", None, PROD, ip=ADMIN_IP, ua=UA_CONSOLE_S3,
            bytes_out=1843, console=True),
    s3_mgmt(admin, T("2026-11-21T08:54:21Z"), USE1, "GetBucketPolicy", "acme-artifacts", PROD, ip=ADMIN_IP,
            ua=UA_CONSOLE_S3, extra_rp={"policy": ""}, owner=PROD, bytes_out=312, console=True),
    s3_mgmt(admin, T("2026-11-21T08:55:00Z"), USE1, "PutBucketPolicy", "acme-artifacts", PROD, ip=ADMIN_IP,
            ua=UA_CONSOLE_S3, extra_rp={"bucketPolicy": POLICY, "policy": ""}, owner=PROD, read_only=False,
            bytes_in=len(json.dumps(POLICY)), console=True),
    s3_mgmt(admin, T("2026-11-21T08:55:09Z"), USE1, "GetBucketPolicy", "acme-artifacts", PROD, ip=ADMIN_IP,
            ua=UA_CONSOLE_S3, extra_rp={"policy": ""}, owner=PROD, bytes_out=len(json.dumps(POLICY)), console=True),
    ar101,
]
add_file(PROD, USE1, "2026-11-21T09:00:00Z", a3,
         "admin (console) ListBuckets, GetBucketPolicy, **PutBucketPolicy on acme-artifacts at 08:55:00** "
         "(Deny s3:PutObject on builds/* unless SSE aws:kms), GetBucketPolicy; ci-runner DescribeInstances; "
         "AssumeRole build-101; 1 CloudTrail delivery")

# ---- A4  prod us-east-1, 09:15 : burst 1 (builds 101-104) ---------------------------------------------
upload_id = base64.urlsafe_b64encode(rng.getrandbits(480).to_bytes(60, "big")).decode().rstrip("=")
cmu_ok = s3_data(b101, T("2026-11-21T09:00:02Z"), USE1, "CreateMultipartUpload", "acme-artifacts",
                 "builds/101/image.tar", PROD, owner=PROD, ip=b101ip, ua=UA_CLI_CI % "s3.cp",
                 extra_rp={"x-amz-server-side-encryption": "aws:kms",
                           "x-amz-server-side-encryption-aws-kms-key-id": KMS_ARTIFACTS},
                 resp={"x-amz-server-side-encryption-aws-kms-key-id": KMS_ARTIFACTS,
                       "x-amz-server-side-encryption": "aws:kms"},
                 sse_applied="SSE_KMS", vpce=VPCE_PROD)
gdk_ok = mgmt(with_invoked_by(b101, "s3.amazonaws.com"), T("2026-11-21T09:00:02Z"), USE1, "kms.amazonaws.com",
              "GenerateDataKey", {"keyId": KMS_ARTIFACTS, "keySpec": "AES_256",
                                  "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::acme-artifacts/builds/101/image.tar"}},
              None, PROD, ip="s3.amazonaws.com", ua="s3.amazonaws.com", resources=kms_res(KMS_ARTIFACTS))
a4 = [cmu_ok, gdk_ok]
# build-101: its CreateMultipartUpload carried the SSE header and passed, but UploadPart carries no SSE
# header, so the StringNotEquals deny matches every part (a classic gotcha).
for i, sec in enumerate((5, 6, 9)):
    a4.append(ci_denied(101, T("2026-11-21T09:00:%02dZ" % sec), "UploadPart", "builds/101/image.tar",
                        part=i + 1, upload_id=upload_id))
for n, base in ((102, "09:03"), (103, "09:06"), (104, "09:09")):
    t0 = T("2026-11-21T%s:00Z" % base)
    ident, rip, ar = ci_session(n, t0 - timedelta(seconds=20))
    a4 += [ar,
           ci_denied(n, t0 + timedelta(seconds=15), "CreateMultipartUpload", "builds/%d/image.tar" % n),
           ci_denied(n, t0 + timedelta(seconds=40), "PutObject", "builds/%d/app.tar.gz" % n)]
a4.append(cloudtrail_delivery(T("2026-11-21T09:05:41Z"), PROD, USE1))
add_file(PROD, USE1, "2026-11-21T09:15:00Z", a4,
         "ci-deploy burst 1: build-101 CreateMultipartUpload OK (SSE-KMS) + kms GenerateDataKey OK, then "
         "**3 UploadPart denied**; builds 102-104: AssumeRole + **CreateMultipartUpload denied + PutObject denied**; "
         "1 CloudTrail delivery")

# ---- A5 / A5b  prod us-east-1, both delivered 10:05 : burst 2 + alice releases/v1 ----------------------
alice_v1 = [alice_denied(T("2026-11-21T09:52:10Z"), "releases/v1/app.zip"),
            alice_denied(T("2026-11-21T09:53:05Z"), "releases/v1/app.zip.sha256"),
            alice_denied(T("2026-11-21T09:58:41Z"), "releases/v1/CHANGELOG.md")]
DUPLICATE = alice_v1[0]
a5 = list(alice_v1)
for n, base in ((105, "09:51"), (106, "09:54")):
    t0 = T("2026-11-21T%s:00Z" % base)
    ident, rip, ar = ci_session(n, t0 - timedelta(seconds=20))
    a5 += [ar,
           ci_denied(n, t0 + timedelta(seconds=15), "CreateMultipartUpload", "builds/%d/image.tar" % n),
           ci_denied(n, t0 + timedelta(seconds=40), "PutObject", "builds/%d/app.tar.gz" % n)]
t0 = T("2026-11-21T09:57:00Z")
ident, rip, ar = ci_session(107, t0 - timedelta(seconds=20))
a5 += [ar,
       ci_denied(107, t0 + timedelta(seconds=15), "PutObject", "builds/107/app.tar.gz", ua=UA_CI_ESCAPE),
       ci_denied(107, t0 + timedelta(seconds=40), "PutObject", "builds/107/manifest.json")]
a5.append(cloudtrail_delivery(T("2026-11-21T09:56:12Z"), DATA, USE1))
add_file(PROD, USE1, "2026-11-21T10:05:00Z", a5,
         "**alice 3 PutObject denied (releases/v1/)**; ci-deploy builds 105-106 (AssumeRole + CreateMultipartUpload "
         "denied + PutObject denied) and build-107 (AssumeRole + 2 PutObject denied; one user agent carries a raw "
         "ESC[31m terminal escape); 1 CloudTrail delivery")

t0 = T("2026-11-21T10:00:00Z")
ident, rip, ar = ci_session(108, t0 - timedelta(seconds=20))
a5b = [DUPLICATE, ar,
       ci_denied(108, t0 + timedelta(seconds=15), "PutObject", "builds/108/app.tar.gz"),
       ci_denied(108, t0 + timedelta(seconds=40), "PutObject", "builds/108/manifest.json"),
       cloudtrail_delivery(T("2026-11-21T10:01:22Z"), PROD, USE1)]
add_file(PROD, USE1, "2026-11-21T10:05:00Z", a5b,
         "second file of the same minute: **exact duplicate** of alice's releases/v1/app.zip denial (same bytes, "
         "same eventID as in the other 10:05 file); build-108 AssumeRole + 2 PutObject denied; 1 CloudTrail delivery")

# ---- A6  prod us-east-1, 11:00 : burst 3 (builds 109-112) ---------------------------------------------
a6 = []
for n, base in ((109, "10:46"), (110, "10:49"), (111, "10:52"), (112, "10:55")):
    t0 = T("2026-11-21T%s:00Z" % base)
    ident, rip, ar = ci_session(n, t0 - timedelta(seconds=20))
    a6 += [ar, ci_denied(n, t0 + timedelta(seconds=15), "PutObject", "builds/%d/app.tar.gz" % n)]
    if n != 112:
        a6.append(ci_denied(n, t0 + timedelta(seconds=40), "PutObject", "builds/%d/manifest.json" % n))
a6.append(put_ok(ALICE, T("2026-11-21T10:51:33Z"), USE1, "acme-artifacts", "docs/changelog.html", PROD,
                 owner=PROD, ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp"))
a6.append(cloudtrail_delivery(T("2026-11-21T10:50:02Z"), PROD, EUW1))
add_file(PROD, USE1, "2026-11-21T11:00:00Z", a6,
         "ci-deploy burst 3: builds 109-111 AssumeRole + 2 PutObject denied each, build-112 AssumeRole + 1 PutObject "
         "denied; alice 1 PutObject OK (docs/); 1 CloudTrail delivery")

# ---- A7  prod us-east-1, 14:20 : alice releases/v2 -----------------------------------------------------
a7 = [
    mgmt(ALICE, T("2026-11-21T14:06:12Z"), USE1, "sts.amazonaws.com", "AssumeRole", None, None, PROD,
         ip=ALICE_IP, ua=UA_CLI_MAC % "sts.assume-role", error="AccessDenied",
         message="User: %s is not authorized to perform: sts:AssumeRole on resource: %s because no "
                 "identity-based policy allows the sts:AssumeRole action" % (ALICE["arn"], CI_DEPLOY.arn),
         tls_host="sts.us-east-1.amazonaws.com"),
    alice_denied(T("2026-11-21T14:08:30Z"), "releases/v2/app.zip"),
    alice_denied(T("2026-11-21T14:09:02Z"), FORMULA_KEY),
    s3_data(ALICE, T("2026-11-21T14:11:40Z"), USE1, "PutObject", "acme-artifacts", "public/index.html", PROD,
            owner=PROD, ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp", error="AccessControlListNotSupported",
            message="The bucket does not allow ACLs", extra_rp={"x-amz-acl": "public-read"}),
    put_ok(ALICE, T("2026-11-21T14:12:03Z"), USE1, "acme-artifacts", "docs/release-notes.html", PROD, owner=PROD,
           ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp"),
    put_ok(ALICE, T("2026-11-21T14:15:26Z"), USE1, "acme-artifacts", "docs/download.html", PROD, owner=PROD,
           ip=ALICE_IP, ua=UA_CLI_MAC % "s3.cp"),
    cloudtrail_delivery(T("2026-11-21T14:10:55Z"), PARTNER, USE1),
]
add_file(PROD, USE1, "2026-11-21T14:20:00Z", a7,
         "alice sts AssumeRole **AccessDenied** (non-S3), **alice 2 PutObject denied (releases/v2/, one key is "
         "the CSV formula `releases/v2/=HYPERLINK(\"http://x\")`)**, alice PutObject **AccessControlListNotSupported**"
         " (x-amz-acl public-read), alice 2 PutObject OK (docs/), 1 CloudTrail delivery")

# ---- A8  prod us-east-1, 2026-11-22 08:10 : TRUNCATED ----------------------------------------------------
r2, r2ip = runner(2)
b113 = CI_DEPLOY.session("build-113", asia(), T("2026-11-22T07:58:10Z"))
a8 = [describe_instances(r2, T("2026-11-22T07:56:02Z"), USE1, PROD, ip=r2ip, ua=UA_CLI_CI % "ec2.describe-instances",
                         tag="ci-runner"),
      assume_role(r2, T("2026-11-22T07:58:10Z"), CI_DEPLOY, "build-113", b113["accessKeyId"], PROD, ip=r2ip,
                  ua=UA_CLI_CI % "sts.assume-role")]
for i, k in enumerate(("app.tar.gz", "manifest.json", "image.tar", "sbom.json", "checksums.txt")):
    a8.append(put_ok(b113, T("2026-11-22T07:58:%02dZ" % (30 + 5 * i)), USE1, "acme-artifacts", "builds/113/" + k,
                     PROD, owner=PROD, ip=r2ip, ua=UA_CLI_CI % "s3.cp", kms=KMS_ARTIFACTS, vpce=VPCE_PROD))
for i, (acct, reg) in enumerate(((PROD, USE1), (DATA, USE1), (PROD, EUW1), (PARTNER, USE1), (DATA, EUW1),
                                 (PROD, USE1), (DATA, USE1))):
    a8.append(cloudtrail_delivery(T("2026-11-22T08:%02d:%02dZ" % (i, 7 * i + 3)), acct, reg))
add_file(PROD, USE1, "2026-11-22T08:10:00Z", a8,
         "**TRUNCATED** (compressed stream cut at 60%): originally ci-runner DescribeInstances, AssumeRole build-113, "
         "5 PutObject OK with SSE-KMS (the fixed pipeline), 7 CloudTrail deliveries - no target records",
         kind="truncated")

# ---- E1 / E2  prod eu-west-1 ------------------------------------------------------------------------------
ship = SHIPPER.session(instance_id(), asia(), T("2026-11-21T06:00:13Z"), ec2=True)
ana = ANALYTICS.session("quicksight-refresh", asia(), T("2026-11-21T11:55:40Z"))
web = WEBAPP.session(instance_id(), asia(), T("2026-11-21T05:30:00Z"), ec2=True)
e1 = [put_ok(ship, T("2026-11-21T11:5%d:%02dZ" % (6 + i // 2, 11 * i + 3)), EUW1, "acme-logs-eu",
             "app/2026/11/21/11/app-%05d.log.gz" % (4410 + i), PROD, owner=PROD, ip="10.40.8.21", ua=UA_SHIPPER)
      for i in range(5)]
e1 += [
    s3_data(ana, T("2026-11-21T11:58:02Z"), EUW1, "GetObject", "acme-logs-eu", "app/2026/11/21/11/app-04410.log.gz",
            PROD, owner=PROD, ip="203.0.113.88", ua=UA_GO % "s3#1.71.0", error="AccessDenied",
            message=s3_msg(ana["arn"], "s3:GetObject", "acme-logs-eu", "app/2026/11/21/11/app-04410.log.gz",
                           "because no identity-based policy allows the s3:GetObject action")),
    s3_data(web, T("2026-11-21T12:01:19Z"), EUW1, "PutObject", "acme-logs-eu-archive", "2026/11/21/export.csv",
            PROD, owner=None, ip="10.40.3.9", ua=UA_GO % "s3#1.71.0", error="NoSuchBucket",
            message="The specified bucket does not exist"),
    describe_instances(ship, T("2026-11-21T12:03:44Z"), EUW1, PROD, ip="10.40.8.21",
                       ua=UA_GO % "ec2#1.198.1", tag="log-shipper"),
]
add_file(PROD, EUW1, "2026-11-21T12:10:00Z", e1,
         "eu-west-1: log-shipper 5 PutObject OK (acme-logs-eu), analytics-reader **GetObject** AccessDenied, "
         "web-app PutObject **NoSuchBucket**, DescribeInstances")
e2 = [put_ok(ship, T("2026-11-22T02:5%d:%02dZ" % (2 + 2 * i, 9 * i + 4)), EUW1, "acme-logs-eu",
             "app/2026/11/22/02/app-%05d.log.gz" % (5120 + i), PROD, owner=PROD, ip="10.40.8.21", ua=UA_SHIPPER)
      for i in range(4)]
e2 += [describe_instances(ship, T("2026-11-22T02:58:30Z"), EUW1, PROD, ip="10.40.8.21",
                          ua=UA_GO % "ec2#1.198.1", tag="log-shipper"),
       s3_mgmt(ship, T("2026-11-22T03:01:02Z"), EUW1, "GetBucketPolicy", "acme-logs-eu", PROD, ip="10.40.8.21",
               ua=UA_SHIPPER, extra_rp={"policy": ""}, owner=PROD, bytes_out=288)]
add_file(PROD, EUW1, "2026-11-22T03:05:00Z", e2,
         "eu-west-1: log-shipper 4 PutObject OK, DescribeInstances, GetBucketPolicy")

# ---- D1 / D2  data us-east-1 : jane (SSO) SSE-KMS denials + KMS companions --------------------------------
JANE_KEY = asia()
jane = SSO_DE.session("jane@example.com", JANE_KEY, T("2026-11-21T13:18:52Z"))
glue = GLUE.session("GlueJobRunnerSession", asia(), T("2026-11-21T13:00:05Z"))
JANE_S3_MSG = ("User: %s is not authorized to perform: kms:GenerateDataKey on resource: %s because no "
               "identity-based policy allows the kms:GenerateDataKey action" % (jane["arn"], KMS_LAKE))


def jane_pair(s3_time, lag, key):
    s3t = T(s3_time)
    kms_ev = mgmt(with_invoked_by(jane, "s3.amazonaws.com"), s3t - timedelta(seconds=lag), USE1, "kms.amazonaws.com",
                  "GenerateDataKey", {"keyId": KMS_LAKE,
                                      "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::acme-data-lake/%s" % key},
                                      "keySpec": "AES_256"},
                  None, DATA, ip="s3.amazonaws.com", ua="s3.amazonaws.com", error="AccessDenied",
                  message=JANE_S3_MSG, resources=kms_res(KMS_LAKE))
    s3_ev = s3_data(jane, s3t, USE1, "PutObject", "acme-data-lake", key, DATA, owner=DATA, ip=JANE_IP,
                    ua=UA_CLI_MAC % "s3.cp", error="AccessDenied", message=JANE_S3_MSG,
                    extra_rp={"x-amz-server-side-encryption": "aws:kms",
                              "x-amz-server-side-encryption-aws-kms-key-id": KMS_LAKE})
    return kms_ev, s3_ev


JK = ["raw/events/2026/11/21/part-%04d.snappy.parquet" % i for i in range(6)]
p = [jane_pair("2026-11-21T13:21:15Z", 1, JK[0]), jane_pair("2026-11-21T13:24:47Z", 0, JK[1]),
     jane_pair("2026-11-21T13:28:00Z", 1, JK[2]), jane_pair("2026-11-21T13:34:00Z", 1, JK[3]),
     jane_pair("2026-11-21T13:37:22Z", 1, JK[4]), jane_pair("2026-11-21T13:40:10Z", 1, JK[5])]
d1 = [mgmt(jane, T("2026-11-21T13:20:30Z"), USE1, "sts.amazonaws.com", "GetCallerIdentity", None, None, DATA,
           ip=JANE_IP, ua=UA_CLI_MAC % "sts.get-caller-identity", tls_host="sts.us-east-1.amazonaws.com"),
      s3_mgmt(jane, T("2026-11-21T13:20:55Z"), USE1, "ListBuckets", None, DATA, ip=JANE_IP, ua=UA_CLI_MAC % "s3.ls",
              bytes_out=1210)]
for kms_ev, s3_ev in p[:3]:
    d1 += [kms_ev, s3_ev]
d1.append(p[3][0])   # the KMS companion of the 4th denial; its S3 event lands in the next file
for i, t in enumerate(("13:22:40", "13:26:02", "13:31:19")):
    d1.append(put_ok(glue, T("2026-11-21T%sZ" % t), USE1, "acme-data-lake",
                     "curated/orders/dt=2026-11-21/part-%05d.parquet" % i, DATA, owner=DATA, ip="10.60.4.17",
                     ua=UA_GLUE, kms=KMS_LAKE))
add_file(DATA, USE1, "2026-11-21T13:35:00Z", d1,
         "jane (SSO DataEngineer) GetCallerIdentity + ListBuckets; **3 PutObject denied (raw/, SSE-KMS)** each with "
         "its kms GenerateDataKey AccessDenied companion, plus the **KMS companion of the 4th denial** (whose S3 "
         "event is in the next file); glue-etl 3 PutObject OK (curated/, SSE-KMS)")
d2 = [p[3][1]]
for kms_ev, s3_ev in p[4:]:
    d2 += [kms_ev, s3_ev]
d2.append(s3_mgmt(jane, T("2026-11-21T13:42:30Z"), USE1, "GetBucketPolicy", "acme-data-lake", DATA, ip=JANE_IP,
                  ua=UA_CLI_MAC % "s3api.get-bucket-policy", extra_rp={"policy": ""}, owner=DATA, bytes_out=655))
add_file(DATA, USE1, "2026-11-21T13:45:00Z", d2,
         "**jane 3 PutObject denied (raw/, SSE-KMS)**: the 4th (its KMS companion is in the previous file), the "
         "5th and 6th with their kms GenerateDataKey AccessDenied companions; jane GetBucketPolicy OK")

# ---- D3  data us-east-1, 16:25 : anonymous --------------------------------------------------------------
def anon(when, name, key, ua):
    return s3_data(ANONYMOUS, T(when), USE1, name, "acme-data-lake", key, DATA, owner=DATA, ip=ANON_IP, ua=ua,
                   signed=False, error="AccessDenied", message="Access Denied", bytes_out=243)


d3 = [anon("2026-11-21T16:12:03Z", "PutObject", "incoming/upload.php", "curl/8.5.0"),
      anon("2026-11-21T16:12:04Z", "PutObject", "incoming/shell.jsp", "curl/8.5.0"),
      anon("2026-11-21T16:15:30Z", "PutObject", "incoming/test.txt", "python-requests/2.32.3"),
      anon("2026-11-21T16:15:31Z", "GetObject", "incoming/test.txt", "python-requests/2.32.3")]
for i, t in enumerate(("16:10:12", "16:13:40", "16:17:05", "16:21:48")):
    d3.append(put_ok(glue, T("2026-11-21T%sZ" % t), USE1, "acme-data-lake",
                     "curated/orders/dt=2026-11-21/part-%05d.parquet" % (3 + i), DATA, owner=DATA, ip="10.60.4.17",
                     ua=UA_GLUE, kms=KMS_LAKE))
add_file(DATA, USE1, "2026-11-21T16:25:00Z", d3,
         "**anonymous 3 PutObject denied (incoming/, `Access Denied`, unsigned)**, anonymous **GetObject** "
         "AccessDenied; glue-etl 4 PutObject OK")

# ---- P1 / D4  the cross-account pair (partner-sync -> acme-data-lake) -------------------------------------
SYNC_KEY = asia()
sync7 = PARTNER_SYNC.session("sync-7", SYNC_KEY, T("2026-11-22T02:05:30Z"))
owner_view = {"type": "AWSAccount", "accountId": PARTNER, "principalId": sync7["principalId"]}
PK = ["partner/exports/2026-11-22/orders.csv", "partner/exports/2026-11-22/customers.csv",
      "partner/exports/2026-11-22/manifest.json", "partner/exports/2026-11-22/_SUCCESS"]
caller_copies, owner_copies = [], []
for key, t in zip(PK, ("02:06:11", "02:07:40", "02:09:02", "02:10:15")):
    shared, rid, id2 = new_uuid(), s3_request_id(), amz_id2()
    common = dict(ip=PARTNER_IP, ua=UA_GO % "s3#1.71.0", error="AccessDenied", message="Access Denied",
                  shared=shared, request_id=rid, id2=id2, bytes_in=0)
    caller_copies.append(s3_data(sync7, T("2026-11-22T%sZ" % t), USE1, "PutObject", "acme-data-lake", key,
                                 PARTNER, owner=None, **common))
    owner_copies.append(s3_data(owner_view, T("2026-11-22T%sZ" % t), USE1, "PutObject", "acme-data-lake", key,
                                DATA, owner=DATA, **common))
p1 = [mgmt(SYNC_BOT, T("2026-11-22T02:05:10Z"), USE1, "iam.amazonaws.com", "GetUser", None, None, PARTNER,
           ip=PARTNER_IP, ua=UA_GO % "iam#1.38.1", tls_host="iam.amazonaws.com"),
      assume_role(SYNC_BOT, T("2026-11-22T02:05:30Z"), PARTNER_SYNC, "sync-7", SYNC_KEY, PARTNER, ip=PARTNER_IP,
                  ua=UA_GO % "sts#1.33.2")]
for i, t in enumerate(("02:05:48", "02:05:52", "02:05:57")):
    p1.append(put_ok(sync7, T("2026-11-22T%sZ" % t), USE1, "partner-outbound",
                     "to-acme/2026-11-22/batch-%02d.csv" % i, PARTNER, owner=PARTNER, ip=PARTNER_IP,
                     ua=UA_GO % "s3#1.71.0"))
p1 += caller_copies
add_file(PARTNER, USE1, "2026-11-22T02:15:00Z", p1,
         "partner account: sync-bot GetUser, AssumeRole partner-sync/sync-7, 3 PutObject OK to its own "
         "partner-outbound; **the caller's copies of 4 cross-account PutObject denials on acme-data-lake "
         "(partner/)**: full AssumedRole identity, bucket resource without accountId, recipientAccountId 777788889999")
d4 = list(owner_copies)
for i, t in enumerate(("02:07:02", "02:12:44")):
    d4.append(put_ok(glue, T("2026-11-22T%sZ" % t), USE1, "acme-data-lake",
                     "curated/orders/dt=2026-11-22/part-%05d.parquet" % i, DATA, owner=DATA, ip="10.60.4.17",
                     ua=UA_GLUE, kms=KMS_LAKE))
add_file(DATA, USE1, "2026-11-22T02:20:00Z", d4,
         "**the bucket owner's copies of the 4 partner-sync denials** (userIdentity AWSAccount 777788889999 with "
         "principalId only, no arn; bucket accountId 444455556666; same sharedEventID, other eventID); glue-etl 2 "
         "PutObject OK")

# ---- D5  data eu-west-1, 2026-11-20 21:50 -----------------------------------------------------------------
glue_eu = GLUE.session("GlueJobRunnerSession", asia(), T("2026-11-20T21:30:00Z"))
d5 = [put_ok(glue_eu, T("2026-11-20T21:4%d:%02dZ" % (i, 13 * i + 7)), EUW1, "acme-data-lake-eu",
             "curated/clicks/dt=2026-11-20/part-%05d.parquet" % i, DATA, owner=DATA, ip="10.61.2.30", ua=UA_GLUE,
             kms=KMS_LAKE_EU) for i in range(3)]
d5 += [
    s3_data(glue_eu, T("2026-11-20T21:38:12Z"), EUW1, "GetObject", "acme-data-lake-eu",
            "raw/clicks/dt=2026-11-20/clicks.json.gz", DATA, owner=DATA, ip="10.61.2.30", ua=UA_GLUE,
            resp=None, bytes_out=1843320),
    mgmt(with_invoked_by(glue_eu, "s3.amazonaws.com"), T("2026-11-20T21:38:12Z"), EUW1, "kms.amazonaws.com",
         "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                     "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::acme-data-lake-eu/raw/clicks/dt=2026-11-20/"
                                                         "clicks.json.gz"}},
         None, DATA, ip="s3.amazonaws.com", ua="s3.amazonaws.com", resources=kms_res(KMS_LAKE_EU)),
    describe_instances(glue_eu, T("2026-11-20T21:44:40Z"), EUW1, DATA, ip="10.61.2.30", ua=UA_GLUE, tag="etl"),
]
add_file(DATA, EUW1, "2026-11-20T21:50:00Z", d5,
         "eu-west-1: glue-etl GetObject OK + kms Decrypt OK (via s3), 3 PutObject OK (SSE-KMS), DescribeInstances")


# =========================================================================== writing
def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def dump_records(records):
    return json.dumps({"Records": records}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def shuffled(records):
    """CloudTrail does not sort records inside a file: shuffle (seeded) until not in time order."""
    recs = list(records)
    if len(recs) < 2:
        return recs
    for _ in range(100):
        rng.shuffle(recs)
        times = [r["eventTime"] for r in recs]
        if times != sorted(times):
            return recs
    raise AssertionError("could not produce an unsorted order")


def write(rel, data):
    path = os.path.join(TRAIL, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


README_TXT = """log archive for tests - acme-log-archive
========================================

This directory imitates the S3 log-archive bucket `acme-log-archive`, which receives the
CloudTrail trails of three accounts (111122223333 prod, 444455556666 data, 777788889999 partner).
Everything here is synthetic test data written by ../build_testdata.py; see ../EXPECTED.md.

This file is not a log file and a scanner should skip it.
"""


def build():
    if os.path.isdir(TRAIL):
        shutil.rmtree(TRAIL)
    os.makedirs(TRAIL)
    manifest = []   # (rel path, n records, description, kind)
    digest_entries = []
    for acct, region, delivery, records, desc, kind in files:
        times = [T(r["eventTime"]) for r in records]
        assert 3 <= len(records) <= 40, (desc, len(records))
        assert max(times) < delivery, desc
        # delivery is at most ~15 minutes after every record (the re-delivered duplicate included)
        assert delivery - min(times) <= timedelta(minutes=15), (desc, delivery - min(times))
        assert all(r["recipientAccountId"] == acct and r["awsRegion"] == region for r in records), desc
        recs = shuffled(records)
        name = "%s_CloudTrail_%s_%s_%s.json.gz" % (acct, region, delivery.strftime("%Y%m%dT%H%MZ"),
                                                    rchars(ALNUM, 16))
        rel = "AWSLogs/%s/CloudTrail/%s/%s/%s" % (acct, region, delivery.strftime("%Y/%m/%d"), name)
        raw = dump_records(recs)
        data = gz(raw)
        if kind == "truncated":
            data = data[: int(len(data) * 0.6)]
        write(rel, data)
        manifest.append((rel, len(recs), desc, kind))
        if acct == PROD and region == USE1 and T("2026-11-21T00:00:00Z") <= delivery < T("2026-11-21T01:00:00Z"):
            digest_entries.append({"s3Bucket": ARCHIVE_BUCKET, "s3Object": rel,
                                   "hashValue": hashlib.sha256(raw).hexdigest(), "hashAlgorithm": "SHA-256",
                                   "newestEventTime": iso(max(times)), "oldestEventTime": iso(min(times))})
    # ---- the digest file (hourly, covers the log files delivered 00:00-01:00 on 2026-11-21)
    assert digest_entries
    end, start = T("2026-11-21T01:00:00Z"), T("2026-11-21T00:00:00Z")
    dprefix = "AWSLogs/%s/CloudTrail-Digest/us-east-1/2026/11/21/" % PROD
    dname = "%s_CloudTrail-Digest_us-east-1_%s_us-east-1_%s.json.gz" % (PROD, TRAIL_NAME, end.strftime("%Y%m%dT%H%M%SZ"))
    prev = "%s_CloudTrail-Digest_us-east-1_%s_us-east-1_%s.json.gz" % (PROD, TRAIL_NAME, start.strftime("%Y%m%dT%H%M%SZ"))
    digest = {"awsAccountId": PROD, "digestStartTime": iso(start), "digestEndTime": iso(end),
              "digestS3Bucket": ARCHIVE_BUCKET, "digestS3Object": dprefix + dname,
              "digestPublicKeyFingerprint": "%032x" % rng.getrandbits(128),
              "digestSignatureAlgorithm": "SHA256withRSA",
              "newestEventTime": max(e["newestEventTime"] for e in digest_entries),
              "oldestEventTime": min(e["oldestEventTime"] for e in digest_entries),
              "previousDigestS3Bucket": ARCHIVE_BUCKET,
              "previousDigestS3Object": dprefix + prev,      # the previous digest ended 2026-11-21T00:00:00Z
              "previousDigestHashValue": "%064x" % rng.getrandbits(256), "previousDigestHashAlgorithm": "SHA-256",
              "previousDigestSignature": "%0512x" % rng.getrandbits(2048),
              "logFiles": digest_entries}
    write(dprefix + dname, gz(json.dumps(digest, separators=(",", ":")).encode()))
    manifest.append((dprefix + dname, 0, "hourly **digest** (CloudTrail-Digest/): awsAccountId, digestStart/EndTime, "
                     "logFiles[] with the SHA-256 of the 00:05 log file; no Records", "digest"))
    write("README.txt", README_TXT.encode())
    manifest.append(("README.txt", 0, "plain-text note beside the logs (not a log file)", "readme"))
    return manifest


# =========================================================================== reference model (report.md)
WRITE_OPS = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject",
             "UploadPartCopy"}
LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".ndjson", ".gz")


def scan(root):
    st = {"seen": 0, "read": 0, "skipped": {}, "failed": [], "records": 0, "bytes_compressed": 0,
          "bytes_decompressed": 0}
    records = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            st["seen"] += 1
            parts = rel.split("/")
            if "CloudTrail-Digest" in parts or "CloudTrail-Insight" in parts:
                reason = "digest" if "CloudTrail-Digest" in parts else "insight"
                st["skipped"][reason] = st["skipped"].get(reason, 0) + 1
                continue
            raw = open(path, "rb").read()
            is_gz = raw[:2] == b"\x1f\x8b"
            if not is_gz and raw.lstrip()[:1] not in (b"{", b"[") and not fn.endswith(LOG_SUFFIXES):
                st["skipped"]["not a log file"] = st["skipped"].get("not a log file", 0) + 1
                continue
            try:
                data = gzip.decompress(raw) if is_gz else raw
                doc = json.loads(data)
            except (EOFError, OSError, zlib.error, ValueError) as e:
                st["failed"].append((rel, "%s: %s" % (type(e).__name__, e)))
                continue
            recs = doc.get("Records") if isinstance(doc, dict) else doc
            if not isinstance(recs, list):
                st["skipped"]["no CloudTrail records"] = st["skipped"].get("no CloudTrail records", 0) + 1
                continue
            st["read"] += 1
            st["bytes_compressed"] += len(raw)
            st["bytes_decompressed"] += len(data)
            st["records"] += len(recs)
            records += [(rel, r) for r in recs]
    return st, records


def matches(r, all_errors=False, any_event=False):
    if any_event:
        return r.get("errorCode") == "AccessDenied"
    if r.get("eventSource") != "s3.amazonaws.com" or r.get("eventName") not in WRITE_OPS:
        return False
    return bool(r.get("errorCode")) if all_errors else r.get("errorCode") == "AccessDenied"


def bucket_owner_of(r):
    for res in r.get("resources") or []:
        if res.get("type") == "AWS::S3::Bucket" and res.get("accountId"):
            return res["accountId"]
    if (r.get("userIdentity") or {}).get("type") == "AWSAccount" and r["userIdentity"].get("accountId") != \
            "ANONYMOUS_PRINCIPAL":
        return r.get("recipientAccountId")      # the owner's copy of a cross-account request
    return None


def dedupe(matched):
    """eventID repeats dropped; copies sharing sharedEventID collapsed to the copy that names the caller best."""
    seen, uniq, dropped = set(), [], 0
    for rel, r in matched:
        if r["eventID"] in seen:
            dropped += 1
            continue
        seen.add(r["eventID"])
        uniq.append((rel, r))
    by_shared, out = {}, []
    for rel, r in uniq:
        sid = r.get("sharedEventID")
        if sid:
            by_shared.setdefault(sid, []).append((rel, r))
        else:
            out.append((rel, r, bucket_owner_of(r)))
    for sid, copies in sorted(by_shared.items()):
        best = sorted(copies, key=lambda c: (0 if c[1]["userIdentity"].get("arn") else 1, c[0]))[0]
        owner = next((o for o in (bucket_owner_of(c[1]) for c in copies) if o), None)
        dropped += len(copies) - 1
        out.append((best[0], best[1], owner))
    return out, dropped


def principal_of(u):
    t = u.get("type")
    if u.get("accountId") == "ANONYMOUS_PRINCIPAL":
        return "ANONYMOUS_PRINCIPAL"
    if t == "AssumedRole":
        arn = ((u.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        return arn or u.get("arn")
    if t in ("IAMUser", "Root", "FederatedUser"):
        return u.get("arn")
    if t == "AWSService":
        return u.get("invokedBy")
    return u.get("arn") or u.get("principalId") or u.get("accountId") or "unknown"


def prefix_of(key, depth):
    folders = key.split("/")[:-1]
    return "/".join(folders[:depth]) + "/" if folders else ""


def group(events, depth):
    groups = {}
    for rel, r, owner in events:
        u = r["userIdentity"]
        rp = r.get("requestParameters") or {}
        k = (principal_of(u), rp.get("bucketName"), prefix_of(rp.get("key", ""), depth))
        g = groups.setdefault(k, {"principal": k[0], "principal_type": u.get("type"), "account": u.get("accountId"),
                                  "bucket": k[1], "bucket_owner": owner, "prefix": k[2], "events": []})
        g["events"].append(r)
        g["bucket_owner"] = g["bucket_owner"] or owner
    rows = []
    for g in groups.values():
        ev = g.pop("events")
        g["denied"] = len(ev)
        g["first_seen"] = min(r["eventTime"] for r in ev)
        g["last_seen"] = max(r["eventTime"] for r in ev)
        g["keys"] = len({r["requestParameters"]["key"] for r in ev})
        g["sessions"] = len({r["userIdentity"].get("principalId") for r in ev} - {"", None})
        g["source_ips"] = len({r["sourceIPAddress"] for r in ev})
        ops = {}
        for r in ev:
            ops[r["eventName"]] = ops.get(r["eventName"], 0) + 1
        g["operations"] = ", ".join("%s %d" % (o, n) for o, n in sorted(ops.items(), key=lambda x: (-x[1], x[0])))
        g["errors"] = ", ".join(sorted({r["errorCode"] for r in ev}))
        rows.append(g)
    rows.sort(key=lambda g: (-g["denied"], g["principal"], g["bucket"] or "", g["prefix"]))
    return rows


def md_groups(rows, with_errors=False):
    cols = ["principal", "principal_type", "account", "bucket", "bucket_owner", "prefix", "denied", "keys",
            "sessions", "source_ips", "first_seen", "last_seen", "operations"] + (["errors"] if with_errors else [])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for g in rows:
        out.append("| " + " | ".join(md_cell(g[c]) for c in cols) + " |")
    return "\n".join(out)


def md_cell(v):
    s = "" if v is None else str(v)
    s = s.replace("\x1b", "\\x1b").replace("|", "\\|")
    return "`%s`" % s if s and any(ch in s for ch in '=/"') and not s.startswith("arn:") else (s or "(none)")


def report(manifest):
    st, records = scan(TRAIL)
    p = print
    if manifest:
        p("### Files (%d)\n" % len(manifest))
        p("| # | path (under testdata/trail/) | records | content |")
        p("|---|---|---|---|")
        for i, (rel, n, desc, kind) in enumerate(sorted(manifest), 1):
            shown = "%d (unreadable)" % n if kind == "truncated" else ("-" if kind in ("digest", "readme") else n)
            p("| %d | `%s` | %s | %s |" % (i, rel, shown, desc))
        p()
    default = [(rel, r) for rel, r in records if matches(r)]
    events, dropped = dedupe(default)
    exact = len(default) - len({r["eventID"] for _, r in default})
    p("### Scan statistics (default scan)\n")
    p("| stat | expected |")
    p("|---|---|")
    p("| files seen | %d |" % st["seen"])
    p("| files read | %d |" % st["read"])
    p("| files skipped | %d (%s) |" % (sum(st["skipped"].values()),
                                       ", ".join("%s %d" % kv for kv in sorted(st["skipped"].items()))))
    p("| files failed | %d (%s) |" % (len(st["failed"]), "; ".join("`%s`: %s" % f for f in st["failed"])))
    p("| records read (readable files only) | %d |" % st["records"])
    p("| compressed bytes of the read files | %d |" % st["bytes_compressed"])
    p("| decompressed bytes of the read files | %d |" % st["bytes_decompressed"])
    p("| target records before dedupe (records matched) | %d |" % len(default))
    p("| duplicates dropped | %d (%d exact eventID repeat + %d cross-account second copies) |"
      % (dropped, exact, dropped - exact))
    p("| unique denied events | %d |" % len(events))
    p("| groups (prefix depth 1) | %d |" % len(group(events, 1)))
    p()
    p("### Groups, default scan, `--prefix-depth 1`\n")
    p(md_groups(group(events, 1)))
    p()
    p("### Groups, default scan, `--prefix-depth 2`\n")
    p(md_groups(group(events, 2)))
    p()
    ae = [(rel, r) for rel, r in records if matches(r, all_errors=True)]
    ae_events, ae_dropped = dedupe(ae)
    p("### Groups with `--all-errors` (default event names, any errorCode), depth 1\n")
    p("records matched %d, duplicates dropped %d, unique events %d\n" % (len(ae), ae_dropped, len(ae_events)))
    p(md_groups(group(ae_events, 1), with_errors=True))
    p()
    ad = [(rel, r) for rel, r in records if matches(r, any_event=True)]
    ad_events, ad_dropped = dedupe(ad)
    by = {}
    for _, r, _o in ad_events:
        k = "%s %s" % (r["eventSource"], r["eventName"])
        by[k] = by.get(k, 0) + 1
    p("### Every AccessDenied of any service (`--event-name '*'`)\n")
    p("records matched %d, duplicates dropped %d, unique events %d: %s\n"
      % (len(ad), ad_dropped, len(ad_events), ", ".join("%s %d" % kv for kv in sorted(by.items()))))
    # ---- other facts worth asserting in tests
    allrec = [r for _, r in records]
    puts_ok = [r for r in allrec if r.get("eventSource") == "s3.amazonaws.com" and r["eventName"] == "PutObject"
               and not r.get("errorCode")]
    p("### Other facts\n")
    p("- PutObject successes (no errorCode) in readable files: %d, of which CloudTrail's own deliveries "
      "(AWSService, invokedBy cloudtrail.amazonaws.com): %d" % (
          len(puts_ok), sum(1 for r in puts_ok if r["userIdentity"].get("invokedBy") == "cloudtrail.amazonaws.com")))
    p("- GetObject AccessDenied: %d; PutObject with other error codes: %s" % (
        sum(1 for r in allrec if r["eventName"] == "GetObject" and r.get("errorCode") == "AccessDenied"),
        ", ".join("%s %d" % kv for kv in sorted(
            {c: sum(1 for r in allrec if r["eventName"] == "PutObject" and r.get("errorCode") == c)
             for c in {r.get("errorCode") for r in allrec if r["eventName"] == "PutObject"} - {None, "AccessDenied"}
             }.items()))))
    kms_ad = [r for r in allrec if r["eventSource"] == "kms.amazonaws.com" and r.get("errorCode") == "AccessDenied"]
    p("- kms GenerateDataKey AccessDenied companions (management events, not targets): %d" % len(kms_ad))
    times = sorted(r["eventTime"] for r in allrec)
    mix = {}
    for r in allrec:
        k = (r["eventSource"], r["eventName"], r.get("errorCode") or "(success)")
        mix[k] = mix.get(k, 0) + 1
    p("- records read, by eventSource / eventName / errorCode: " + "; ".join(
        "%s %s %s: %d" % (k + (n,)) for k, n in sorted(mix.items())))
    p("- eventTime range of the readable records: %s .. %s" % (times[0], times[-1]))
    sessions = sorted({r["userIdentity"]["principalId"].split(":")[1] for _, r, _o in events
                       if r["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
                       == CI_DEPLOY.arn})
    p("- ci-deploy sessions among the denials: %s" % ", ".join(sessions))
    dup_files = sorted(rel for rel, r in default if r["eventID"] == DUPLICATE["eventID"])
    p("- exact duplicate: eventID `%s` (alice, releases/v1/app.zip) in `%s`" % (
        DUPLICATE["eventID"], "` and `".join(dup_files)))
    p("- cross-account pairs (sharedEventID -> kept caller copy eventID / dropped owner copy eventID):")
    for c, o in zip(caller_copies, owner_copies):
        p("  - `%s` -> kept `%s` / dropped `%s` (%s)" % (c["sharedEventID"], c["eventID"], o["eventID"],
                                                       c["requestParameters"]["key"]))
    esc = [r["eventID"] for _, r, _o in events if ESC in r.get("userAgent", "")]
    p("- target record whose userAgent contains ESC (0x1b): eventID `%s`" % ", ".join(esc))
    fk = [r["eventID"] for _, r, _o in events if r["requestParameters"]["key"] == FORMULA_KEY]
    p("- target record with the CSV-formula key `%s`: eventID `%s`" % (FORMULA_KEY, ", ".join(fk)))
    return st, default, events, dropped


def self_check(st, default, events, dropped):
    """The numbers the brief asked for; fail loudly if the scenario drifts."""
    rows = {(g["principal"], g["prefix"]): g for g in group(events, 1)}
    ci = rows[(CI_DEPLOY.arn, "builds/")]
    assert ci["denied"] == 24 and ci["sessions"] == 12, ci
    assert ci["operations"] == "PutObject 16, CreateMultipartUpload 5, UploadPart 3", ci["operations"]
    assert rows[(ALICE["arn"], "releases/")]["denied"] == 5
    assert rows[(SSO_DE.arn, "raw/")]["denied"] == 6
    assert rows[("ANONYMOUS_PRINCIPAL", "incoming/")]["denied"] == 3
    pg = rows[(PARTNER_SYNC.arn, "partner/")]
    assert pg["denied"] == 4 and pg["account"] == PARTNER and pg["bucket_owner"] == DATA, pg
    assert len(rows) == 5 and len(default) == 47 and dropped == 5 and len(events) == 42
    assert st["skipped"] == {"digest": 1, "not a log file": 1} and len(st["failed"]) == 1


def main():
    manifest = None
    if "--check" not in sys.argv[1:]:
        manifest = build()
    st, default, events, dropped = report(manifest)
    self_check(st, default, events, dropped)


if __name__ == "__main__":
    main()
