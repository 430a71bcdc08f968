#!/usr/bin/env bash
# An outage behind a VPC endpoint: its policy stops allowing s3:PutObject, and every denied write
# comes twice into the endpoint owner's trail, as the data event (AccessDenied, S3's plain "Access
# Denied") and as the endpoint's network activity event (VpceAccessDenied). The second is a
# companion the diagnosis joins to the first (it alone names the cause here), so this is the
# trail where the companions kept could grow with the denials. Prints wall time and peak RSS per size, and checks that BASELINE
# (an older build, if given) reports the same groups, counts and causes.
#
#   benches/vpce-outage.sh                    # 500,000 and 1 million denied writes
#   benches/vpce-outage.sh 250000 2000000     # other sizes
#   BASELINE=old/denytrail benches/vpce-outage.sh
#
# The trails are written once (python3, ~1 minute per million denied writes) under
# DENYTRAIL_BENCH_DIR (default ~/.cache/denytrail-bench). Needs GNU time.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
bench_setup "500000 1000000" "$@"

# trail N: a trail of N denied writes and their N endpoint events, 2,500 pairs to a file.
trail() {
    python_trail vpce-outage "$1" <<'EOF'
import gzip, os, random, sys, uuid
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
base = os.path.join(root, "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/22")
os.makedirs(base, exist_ok=True)
per = 2500
roles = ["ingest-writer", "etl-loader", "backup-agent", "report-builder"]
def record(k, network):
    role = roles[k % len(roles)]
    key = "landing/%s/%d/part-%d.parquet" % (role, k // 5000, k)
    time = "2026-11-22T%02d:%02d:%02dZ" % ((k // 3600) % 24, (k // 60) % 60, k % 60)
    ident = ('{"type":"AssumedRole","principalId":"AROAEXAMPLE%d:task-%d","arn":"arn:aws:sts::111122223333:'
             'assumed-role/%s/task-%d","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE%06d",'
             '"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE%d",'
             '"arn":"arn:aws:iam::111122223333:role/%s","accountId":"111122223333","userName":"%s"}}}'
             % (k % 4, k % 97, role, k % 97, k % 500, k % 4, role, role))
    if network:
        error = ('"errorCode":"VpceAccessDenied","errorMessage":"The request was denied due to a VPC endpoint policy",'
                 '"eventType":"AwsVpceEvent","eventCategory":"NetworkActivity"')
    else:
        # S3's plain message: the endpoint's event is what names the cause.
        error = ('"errorCode":"AccessDenied","errorMessage":"Access Denied","eventType":"AwsApiCall",'
                 '"eventCategory":"Data","readOnly":false,"managementEvent":false,"resources":[{"type":"AWS::S3::Object",'
                 '"ARN":"arn:aws:s3:::acme-ingest/%s"},{"accountId":"111122223333","type":"AWS::S3::Bucket",'
                 '"ARN":"arn:aws:s3:::acme-ingest"}]' % key)
    return ('{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"s3.amazonaws.com",'
            '"eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"10.0.%d.%d",'
            '"userAgent":"[aws-sdk-java/2.25.0]",%s,"requestParameters":{"bucketName":"acme-ingest",'
            '"Host":"acme-ingest.s3.us-east-1.amazonaws.com","key":"%s"},"responseElements":null,'
            '"requestID":"%016X","eventID":"%s","recipientAccountId":"111122223333",'
            '"vpcEndpointId":"vpce-0a1b2c3d4e5f60718","vpcEndpointAccountId":"111122223333"}'
            % (ident, time, k % 200, k % 250, error, key, k * 2 + network, uuid.UUID(int=rng.getrandbits(128))))
for f in range((n + per - 1) // per):
    recs = []
    for k in range(f * per, min(n, (f + 1) * per)):
        recs.append(record(k, 0))
        recs.append(record(k, 1))
    name = "111122223333_CloudTrail_us-east-1_20261122T0000Z_%06d.json.gz" % f
    with gzip.open(os.path.join(base, name), "wt", compresslevel=1) as out:
        out.write('{"Records":[' + ",".join(recs) + "]}")
EOF
}

same_with_causes() { same_groups "$1" "$2" causes; }

against_baseline "denied writes,same groups and causes" trail same_with_causes
