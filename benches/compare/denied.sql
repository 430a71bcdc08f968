-- denytrail's default query in DuckDB. @FILES@ and @MAX_OBJECT@ are filled in by duckdb_query.py.
--
-- Each log file is one {"Records":[...]} object. Read each file as one JSON value and convert it to
-- a typed struct of just the fields the query uses. On these one-line files (DuckDB 2.0, a 64 MiB
-- trail, 2 cores) that took 2 s, where read_json with schema inference over the heterogeneous
-- records took 12 s, and read_json(..., columns={'Records': 'STRUCT(...)[]'}) 20-30 s.
-- Then unnest, keep the denied S3 writes, derive principal / bucket / prefix as
-- src/parse/extract.rs does (empty strings read as absent), apply denytrail's dedupe (one row per
-- eventID; the copies of one cross-account request, same sharedEventID, count once, under the copy
-- that names the caller best), and group.
WITH rec AS (
    SELECT unnest(from_json(json, '{"Records": [{
            "eventSource": "VARCHAR", "eventName": "VARCHAR", "errorCode": "VARCHAR",
            "eventID": "VARCHAR", "sharedEventID": "VARCHAR",
            "userIdentity": {"type": "VARCHAR", "arn": "VARCHAR", "accountId": "VARCHAR",
                "principalId": "VARCHAR", "userName": "VARCHAR", "invokedBy": "VARCHAR",
                "userId": "VARCHAR", "onBehalfOf": {"userId": "VARCHAR"},
                "sessionContext": {"sessionIssuer": {"arn": "VARCHAR"}}},
            "requestParameters": {"bucketName": "VARCHAR", "key": "VARCHAR"},
            "resources": [{"type": "VARCHAR", "ARN": "VARCHAR"}]
        }]}').Records) AS r
    FROM read_json_objects(@FILES@,
        format = 'unstructured',
        compression = 'gzip',
        maximum_object_size = @MAX_OBJECT@)
),
denied AS (
    SELECT
        r.userIdentity IS NULL AS no_identity,
        nullif(r.userIdentity."type", '') AS utype,
        nullif(r.userIdentity.arn, '') AS arn,
        nullif(r.userIdentity.accountId, '') AS account,
        nullif(r.userIdentity.principalId, '') AS principal_id,
        nullif(r.userIdentity.userName, '') AS user_name,
        nullif(r.userIdentity.invokedBy, '') AS invoked_by,
        nullif(r.userIdentity.userId, '') AS user_id,
        nullif(r.userIdentity.onBehalfOf.userId, '') AS on_behalf_of,
        nullif(r.userIdentity.sessionContext.sessionIssuer.arn, '') AS issuer_arn,
        nullif(r.eventID, '') AS event_id,
        nullif(r.sharedEventID, '') AS shared_id,
        nullif(r.requestParameters.bucketName, '') AS bucket_param,
        nullif(r.requestParameters."key", '') AS key_param,
        list_filter(r.resources, lambda x: x."type" = 'AWS::S3::Object')[1]."ARN" AS object_arn,
        list_filter(r.resources, lambda x: x."type" = 'AWS::S3::Bucket')[1]."ARN" AS bucket_arn
    FROM rec
    WHERE r.eventSource = 's3.amazonaws.com'
      AND r.errorCode = 'AccessDenied'
      AND r.eventName IN ('PutObject', 'CreateMultipartUpload', 'UploadPart',
                          'CompleteMultipartUpload', 'CopyObject', 'UploadPartCopy')
),
keyed AS (
    SELECT
        CASE
            WHEN no_identity THEN 'unknown'
            WHEN account = 'ANONYMOUS_PRINCIPAL' THEN 'ANONYMOUS_PRINCIPAL'
            ELSE coalesce(
                CASE utype
                    WHEN 'AssumedRole' THEN coalesce(issuer_arn,
                        CASE WHEN regexp_matches(arn, '^arn:[^:]*:sts:[^:]*:[^:]*:assumed-role/.')
                             THEN regexp_replace(arn,
                                 '^arn:([^:]*):sts:[^:]*:([^:]*):assumed-role/(.+?)(/[^/]*)?$',
                                 'arn:\1:iam::\2:role/\3') END)
                    WHEN 'IAMUser' THEN arn
                    WHEN 'Root' THEN arn
                    WHEN 'FederatedUser' THEN arn
                    WHEN 'AWSService' THEN invoked_by
                    WHEN 'IdentityCenterUser' THEN coalesce(on_behalf_of, user_id)
                    WHEN 'AWSAccount' THEN nullif(split_part(principal_id, ':', 1), '')
                END,
                arn, principal_id, user_name, account, invoked_by,
                'unknown ' || coalesce(utype, 'Unknown'))
        END AS principal,
        -- arn:aws:s3:::bucket/key
        coalesce(bucket_param,
                 nullif(split_part(CASE WHEN starts_with(object_arn, 'arn:aws:s3:::') THEN object_arn[14:] END, '/', 1), ''),
                 nullif(split_part(CASE WHEN starts_with(bucket_arn, 'arn:aws:s3:::') THEN bucket_arn[14:] END, '/', 1), ''),
                 '') AS bucket,
        coalesce(key_param,
                 CASE WHEN starts_with(object_arn, 'arn:aws:s3:::') AND strpos(object_arn[14:], '/') > 0
                      THEN object_arn[14 + strpos(object_arn[14:], '/'):] END,
                 '') AS object_key,
        event_id,
        -- one row per sharedEventID, else per eventID (records without either are all kept)
        coalesce(shared_id, event_id, gen_random_uuid()::VARCHAR) AS dedupe_key,
        (CASE WHEN arn IS NOT NULL THEN 2 ELSE 0 END)
            + (CASE WHEN coalesce(utype, '') <> 'AWSAccount' THEN 1 ELSE 0 END) AS naming_rank
    FROM denied
),
unique_events AS (
    SELECT * FROM keyed
    QUALIFY row_number() OVER (
        PARTITION BY dedupe_key
        ORDER BY naming_rank DESC, event_id) = 1
)
SELECT
    count(*) AS denied,
    principal,
    bucket,
    CASE WHEN strpos(object_key, '/') > 0 THEN object_key[:strpos(object_key, '/')] ELSE '' END AS prefix
FROM unique_events
GROUP BY ALL
ORDER BY denied DESC, principal, bucket, prefix
