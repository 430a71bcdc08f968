# denytrail's default query in jq, for one {"Records":[...]} object: one TSV line per denied S3
# write: principal, bucket, prefix, eventID, sharedEventID, naming rank. benches/compare/merge.awk
# then applies denytrail's dedupe and counts the groups. Mirrors src/parse/extract.rs (principal_of,
# the bucket and key fallbacks to `resources`, "a field of an unexpected type reads as absent") and
# src/event.rs (prefix_of at depth 1).
def s3_writes: ["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                "CopyObject", "UploadPartCopy"];
# extract.rs str_of: a non-empty string, else null.
def str: if type == "string" and . != "" then . else null end;
# extract.rs text: str_of, plus numbers and booleans as their JSON text, arrays of scalars joined.
def txt:
  if type == "string" then .
  elif type == "number" or type == "boolean" then tostring
  elif type == "array" then map(txt | select(. != null)) | join(",")
  else null end
  | if . == "" then null else . end;
# arn:aws:sts::A:assumed-role/R/S -> arn:aws:iam::A:role/R (event.rs role_arn_from_session_arn)
def role_of_session:
  capture("^arn:(?<p>[^:]*):sts:[^:]*:(?<a>[^:]*):assumed-role/(?<r>.+?)(/[^/]*)?$")
  | "arn:\(.p):iam::\(.a):role/\(.r)";
def principal:
  if type != "object" then "unknown Unknown"
  elif .accountId == "ANONYMOUS_PRINCIPAL" then "ANONYMOUS_PRINCIPAL"
  else
    ( if .type == "AssumedRole" then
        (.sessionContext.sessionIssuer.arn? | str) // ((.arn | str) // "" | role_of_session)
      elif .type == "IAMUser" or .type == "Root" or .type == "FederatedUser" then .arn | str
      elif .type == "AWSService" then .invokedBy | str
      elif .type == "IdentityCenterUser" then (.onBehalfOf.userId? | str) // (.userId | str)
      elif .type == "AWSAccount" then (.principalId | str) // "" | split(":")[0] | select(. != "")
      else null end )
    // (.arn | str) // (.principalId | str) // (.userName | str) // (.accountId | str)
    // (.invokedBy | str) // "unknown \(.type | str // "Unknown")"
  end;
# arn:aws:s3:::bucket/key -> {bucket, key}
def s3_arn:
  select(type == "string" and startswith("arn:aws:s3:::")) | .[13:] | split("/")
  | {bucket: .[0], key: (if length > 1 then .[1:] | join("/") else null end)};
def first_resource($t):
  first((.resources | arrays | .[] | objects | select(.type == $t) | .ARN) // null);
def param($k): .requestParameters | if type == "object" then .[$k] | txt else null end;

.Records[]?
| select(.eventSource == "s3.amazonaws.com" and .errorCode == "AccessDenied"
         and (.eventName as $n | s3_writes | index([$n])))
| ((first_resource("AWS::S3::Object") | s3_arn) // null) as $obj
| (param("bucketName") // $obj.bucket
   // (first_resource("AWS::S3::Bucket") | s3_arn | .bucket) // "") as $bucket
| (param("key") // $obj.key // "") as $key
| ($key | split("/") | if length > 1 then .[0] + "/" else "" end) as $prefix
| [ (if has("userIdentity") then .userIdentity | principal else "unknown" end),
    $bucket, $prefix, (.eventID | txt) // "", (.sharedEventID | txt) // "",
    (.userIdentity | if type == "object"
        then (if .arn | txt then 2 else 0 end) + (if .type == "AWSAccount" then 0 else 1 end)
        else 1 end) ]
| map(tostring | gsub("[\t\n]"; " ")) | join("\t")
