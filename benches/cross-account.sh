#!/usr/bin/env bash
# An outage of a partner's writes: every denial is the bucket owner's copy of a cross-account
# request (`AWSAccount` caller, a `sharedEventID`), as the owner's trail holds them when a
# partner account loses access to a bucket. Each such copy waits until the end of the scan for a
# caller's copy that would replace it, so this is the trail where what waits could grow with the
# denials. Prints wall time and peak RSS per size, and checks that BASELINE (an older build, if
# given) reports the same groups and counts.
#
#   benches/cross-account.sh                    # 1 and 2 million denials
#   benches/cross-account.sh 500000 4000000     # other sizes
#   BASELINE=old/denytrail benches/cross-account.sh
#
# The trails are written once (python3, ~1 minute per million records) under
# DENYTRAIL_BENCH_DIR (default ~/.cache/denytrail-bench). Needs GNU time.
set -euo pipefail

# shellcheck source=benches/binaries.sh
. "$(dirname "$0")/binaries.sh"
bench_setup "1000000 2000000" "$@"

# trail N: a trail of N owner copies, 5,000 to a file, written once.
trail() {
    python_trail cross-account "$1" <<'EOF'
import gzip, os, random, sys, uuid
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
base = os.path.join(root, "AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/22")
os.makedirs(base, exist_ok=True)
per = 5000
for f in range((n + per - 1) // per):
    recs = []
    for k in range(f * per, min(n, (f + 1) * per)):
        key = "partner/exports/%d/part-%d.csv" % (k // 1000, k)
        recs.append(
            '{"eventVersion":"1.09","userIdentity":{"type":"AWSAccount","principalId":"","accountId":"777788889999"},'
            '"eventTime":"2026-11-22T%02d:%02d:%02dZ","eventSource":"s3.amazonaws.com","eventName":"PutObject",'
            '"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.%d","userAgent":"[aws-sdk-java/2.25.0]",'
            '"errorCode":"AccessDenied","errorMessage":"Access Denied","requestParameters":{"bucketName":"acme-data-lake",'
            '"Host":"acme-data-lake.s3.us-east-1.amazonaws.com","key":"%s"},"responseElements":null,'
            '"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,'
            '"AuthenticationMethod":"AuthHeader","bytesTransferredOut":243},"requestID":"%016X","eventID":"%s",'
            '"readOnly":false,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::acme-data-lake/%s"},'
            '{"accountId":"444455556666","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::acme-data-lake"}],'
            '"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"444455556666","sharedEventID":"%s",'
            '"eventCategory":"Data"}'
            % ((k // 3600) % 24, (k // 60) % 60, k % 60, k % 250, key, k,
               uuid.UUID(int=rng.getrandbits(128)), key, uuid.UUID(int=rng.getrandbits(128))))
    name = "444455556666_CloudTrail_us-east-1_20261122T0000Z_%06d.json.gz" % f
    with gzip.open(os.path.join(base, name), "wt", compresslevel=1) as out:
        out.write('{"Records":[' + ",".join(recs) + "]}")
EOF
}

against_baseline "owner copies,same groups" trail same_groups
