//! Deterministic synthetic CloudTrail trail for benchmarks and large tests.
//!
//! Every file gets its own PRNG seeded from (seed, file index), and the file plan is drawn
//! sequentially up front, so the output is byte-identical whatever the thread count.
//! Files are gzip'd at `SynthOptions::gzip_level`, by default `Compression::default()` (level 6).
//! The string `AccessDenied` only ever appears in records whose errorCode is `AccessDenied`.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use rayon::prelude::*;

/// 2026-11-01T00:00:00Z.
const DEFAULT_START: i64 = 1_793_491_200;
/// Seconds between deliveries of one account/region.
const DELIVERY_EVERY: i64 = 300;
/// Records of a file fall in `[delivery - WINDOW, delivery - 1]`.
const WINDOW: i64 = 420;

pub struct SynthOptions {
    /// Trail root; files go under `AWSLogs/...`.
    pub out_dir: PathBuf,
    /// Total decompressed JSON bytes to write (stops once reached).
    pub target_bytes: u64,
    pub seed: u64,
    /// Share of records that are denied S3 writes.
    pub denied_ratio: f64,
    /// Decompressed size range of one log file.
    pub min_file_bytes: u64,
    pub max_file_bytes: u64,
    /// Unix seconds of the first delivery; deliveries follow every 5 minutes.
    pub start: i64,
    /// Worker threads; 0 = rayon default.
    pub threads: usize,
    /// Gzip level 0–9. Default 6 (`Compression::default()`): ~9:1 here, close to real CloudTrail
    /// files (8.6:1 on the Invictus set at the same level); 2 is ~2.5× faster at ~7:1.
    pub gzip_level: u32,
}

impl SynthOptions {
    pub fn new(out_dir: PathBuf, target_bytes: u64) -> Self {
        Self {
            out_dir,
            target_bytes,
            seed: 42,
            denied_ratio: 0.01,
            min_file_bytes: 64 << 10,
            max_file_bytes: 8 << 20,
            start: DEFAULT_START,
            threads: 0,
            gzip_level: 6,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SynthSummary {
    pub files: u64,
    pub records: u64,
    pub denied_writes: u64,
    pub bytes_compressed: u64,
    pub bytes_decompressed: u64,
}

/// Writes the trail and returns exact counts of what was written.
pub fn generate(opts: &SynthOptions) -> io::Result<SynthSummary> {
    let world = World::new();
    let plan = plan(opts, &world);
    let cap = opts.max_file_bytes.clamp(1 << 16, 1 << 30) as usize + (16 << 10);
    let run = || {
        plan.par_iter()
            .map_init(
                || (String::with_capacity(cap), Vec::with_capacity(cap / 4)),
                |(json, gz), f| write_file(opts, &world, f, json, gz),
            )
            .try_reduce(SynthSummary::default, |mut a, b| {
                a.files += b.files;
                a.records += b.records;
                a.denied_writes += b.denied_writes;
                a.bytes_compressed += b.bytes_compressed;
                a.bytes_decompressed += b.bytes_decompressed;
                Ok(a)
            })
    };
    if opts.threads > 0 {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build().map_err(io::Error::other)?;
        pool.install(run)
    } else {
        run()
    }
}

// ---------------------------------------------------------------- file plan

struct FilePlan {
    index: u64,
    stream: usize,
    delivery: i64,
    target: u64,
    /// First file of its stream in this delivery slot: it carries the slot's scheduled AssumeRole calls.
    first: bool,
}

/// Draws every file's stream, delivery time and size, in order, until the byte target is met.
fn plan(opts: &SynthOptions, world: &World) -> Vec<FilePlan> {
    let mut rng = Rng::new(opts.seed ^ 0x706c_616e_5f76_3031);
    let lo = opts.min_file_bytes.max(1).min(opts.max_file_bytes.max(1)) as f64;
    let hi = opts.max_file_bytes.max(1).max(opts.min_file_bytes.max(1)) as f64;
    let (llo, lhi) = (lo.ln(), hi.ln());
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut slot = 0i64;
    while total < opts.target_bytes {
        let delivery = (opts.start + slot * DELIVERY_EVERY).div_euclid(60) * 60;
        for (si, st) in world.streams.iter().enumerate() {
            let n = match st.busy {
                3 => 1 + rng.below(3),
                2 => 1 + rng.below(2),
                _ => 1 + u64::from(rng.chance(0.25)),
            };
            for k in 0..n {
                if total >= opts.target_bytes {
                    break;
                }
                // Log-uniform, biased toward larger files.
                let target = (llo + (lhi - llo) * rng.f64().sqrt()).exp().round().clamp(lo, hi) as u64;
                out.push(FilePlan { index: out.len() as u64, stream: si, delivery, target, first: k == 0 });
                total += target;
            }
        }
        slot += 1;
    }
    out
}

fn write_file(
    opts: &SynthOptions,
    world: &World,
    f: &FilePlan,
    json: &mut String,
    gz: &mut Vec<u8>,
) -> io::Result<SynthSummary> {
    let st = &world.streams[f.stream];
    let acct = ACCOUNTS[st.acct].id;
    let mut g = Gen {
        st,
        rng: Rng::new(hash2(opts.seed, f.index.wrapping_add(0x6669_6c65))),
        file: f.index,
        rec: 0,
        denied_ratio: opts.denied_ratio,
        delivery: f.delivery,
        key: String::with_capacity(256),
        tls13: true,
        denied: 0,
    };
    json.clear();
    json.push_str("{\"Records\":[");
    if f.first {
        g.scheduled_assume_roles(json);
    }
    while json.len() < f.target as usize || g.rec == 0 {
        if g.rec > 0 {
            json.push(',');
        }
        g.record(json);
    }
    json.push_str("]}");

    let (y, mo, d, h, mi, _) = civil(f.delivery);
    let mut suffix = String::with_capacity(16);
    push_chars(&mut suffix, &mut g.rng, ALNUM, 16);
    let dir = opts.out_dir.join(format!("AWSLogs/{acct}/CloudTrail/{}/{y:04}/{mo:02}/{d:02}", st.region));
    fs::create_dir_all(&dir)?;
    let name = format!("{acct}_CloudTrail_{}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{suffix}.json.gz", st.region);

    gz.clear();
    let mut enc = GzEncoder::new(std::mem::take(gz), Compression::new(opts.gzip_level.min(9)));
    enc.write_all(json.as_bytes())?;
    *gz = enc.finish()?;
    fs::write(dir.join(name), &gz[..])?;
    Ok(SynthSummary {
        files: 1,
        records: u64::from(g.rec),
        denied_writes: g.denied,
        bytes_compressed: gz.len() as u64,
        bytes_decompressed: json.len() as u64,
    })
}

// ---------------------------------------------------------------- PRNG

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash2(a: u64, b: u64) -> u64 {
    mix64(mix64(a) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn hash3(a: u64, b: u64, c: u64) -> u64 {
    hash2(hash2(a, b), c)
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(mix64(seed))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn weighted<T: Copy>(&mut self, xs: &[(T, u32)]) -> T {
        let total: u32 = xs.iter().map(|x| x.1).sum();
        let mut r = self.below(u64::from(total)) as u32;
        for &(x, w) in xs {
            if r < w {
                return x;
            }
            r -= w;
        }
        xs[xs.len() - 1].0
    }
}

// ---------------------------------------------------------------- text helpers

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
const HEX: &[u8] = b"0123456789abcdef";

fn push_chars(o: &mut String, rng: &mut Rng, alphabet: &[u8], n: usize) {
    for _ in 0..n {
        o.push(alphabet[rng.below(alphabet.len() as u64) as usize] as char);
    }
}

/// `n` chars from a power-of-two alphabet (16/32/64), 6 bits per draw at most.
fn push_bits(o: &mut String, rng: &mut Rng, alphabet: &[u8], n: usize) {
    let bits = alphabet.len().trailing_zeros();
    let per = (64 / bits) as usize;
    let mask = (alphabet.len() - 1) as u64;
    let mut left = n;
    while left > 0 {
        let mut x = rng.next();
        for _ in 0..per.min(left) {
            o.push(alphabet[(x & mask) as usize] as char);
            x >>= bits;
        }
        left -= per.min(left);
    }
}

/// Deterministic chars from a hash value (alphabet of 32 or 16 chars).
fn push_hashed(o: &mut String, mut h: u64, alphabet: &[u8], n: usize) {
    let bits = alphabet.len().trailing_zeros();
    let mask = (alphabet.len() - 1) as u64;
    for i in 0..n {
        if i > 0 && i % (64 / bits as usize) == 0 {
            h = mix64(h);
        }
        o.push(alphabet[(h & mask) as usize] as char);
        h >>= bits;
    }
}

fn push_hex_u64(o: &mut String, x: u64, digits: u32) {
    for i in (0..digits).rev() {
        o.push(HEX[((x >> (i * 4)) & 15) as usize] as char);
    }
}

/// UUID v4 text: `hi` gives the first 64 bits (minus the version nibble), `lo` the rest.
fn push_uuid(o: &mut String, hi: u64, lo: u64) {
    push_hex_u64(o, hi >> 32, 8);
    o.push('-');
    push_hex_u64(o, (hi >> 16) & 0xffff, 4);
    o.push_str("-4");
    push_hex_u64(o, hi & 0xfff, 3);
    o.push('-');
    push_hex_u64(o, 0x8 | ((lo >> 62) & 0x3), 1);
    push_hex_u64(o, (lo >> 48) & 0xfff, 3);
    o.push('-');
    push_hex_u64(o, lo & 0xffff_ffff_ffff, 12);
}

fn push_num(o: &mut String, n: u64) {
    let _ = write!(o, "{n}");
}

/// JSON string contents (no quotes).
fn push_esc(o: &mut String, s: &str) {
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        o.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
}

/// Unix seconds → (year, month, day, hour, minute, second), UTC.
fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

fn push_2(o: &mut String, n: u32) {
    o.push((b'0' + (n / 10) as u8) as char);
    o.push((b'0' + (n % 10) as u8) as char);
}

/// `2026-11-01T00:00:00Z`.
fn push_time(o: &mut String, t: i64) {
    let (y, m, d, h, mi, s) = civil(t);
    push_num(o, y as u64);
    o.push('-');
    push_2(o, m);
    o.push('-');
    push_2(o, d);
    o.push('T');
    push_2(o, h);
    o.push(':');
    push_2(o, mi);
    o.push(':');
    push_2(o, s);
    o.push('Z');
}

/// STS style: `Nov 1, 2026, 1:05:09 AM`.
fn push_sts_time(o: &mut String, t: i64) {
    const MON: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, m, d, h, mi, s) = civil(t);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let _ = write!(o, "{} {d}, {y}, {h12}:", MON[m as usize - 1]);
    push_2(o, mi);
    o.push(':');
    push_2(o, s);
    o.push_str(if h < 12 { " AM" } else { " PM" });
}

// ---------------------------------------------------------------- the simulated organisation

struct Account {
    id: &'static str,
    regions: &'static [&'static str],
    trail_bucket: &'static str,
}

/// The last account is an outside partner: it has no trail here.
#[rustfmt::skip]
const ACCOUNTS: [Account; 4] = [
    Account { id: "284716093551", regions: &["us-east-1", "eu-west-1", "us-west-2"], trail_bucket: "aws-cloudtrail-logs-284716093551-5d1f0a3c" },
    Account { id: "590318642207", regions: &["us-east-1", "eu-central-1"], trail_bucket: "aws-cloudtrail-logs-590318642207-b82e94d1" },
    Account { id: "736204985119", regions: &["us-east-1", "ap-southeast-2"], trail_bucket: "aws-cloudtrail-logs-736204985119-0c7a3f58" },
    Account { id: "830461275519", regions: &[], trail_bucket: "" },
];
const ORG_SCP_ARN: &str = "arn:aws:organizations::284716093551:policy/o-7k2m9x4q1w/service_control_policy/p-3nq8v2xz";

struct Bucket {
    name: &'static str,
    acct: usize,
    region: &'static str,
    kms_key: Option<&'static str>,
    versioned: bool,
    public_read: bool,
    prefixes: &'static [&'static str],
}

#[rustfmt::skip]
const BUCKETS: &[Bucket] = &[
    Bucket { name: "acme-prod-uploads", acct: 0, region: "us-east-1", kms_key: Some("3f6c1f7e-2b8d-4c1a-9e55-0d2a7b9c4e11"), versioned: true, public_read: false, prefixes: &["incoming/", "user-content/", "tmp/uploads/"] },
    Bucket { name: "acme-prod-artifacts", acct: 0, region: "us-east-1", kms_key: None, versioned: true, public_read: false, prefixes: &["builds/", "releases/", "terraform/state/"] },
    Bucket { name: "acme-prod-static-site", acct: 0, region: "us-east-1", kms_key: None, versioned: false, public_read: true, prefixes: &["assets/", "img/", "docs/"] },
    Bucket { name: "acme-prod-eu-media", acct: 0, region: "eu-west-1", kms_key: Some("a9d04b62-71e3-4f0c-8b1d-5c6e2f9a3b70"), versioned: false, public_read: false, prefixes: &["media/originals/", "media/thumbs/"] },
    Bucket { name: "acme-prod-eu-exports", acct: 0, region: "eu-west-1", kms_key: None, versioned: false, public_read: false, prefixes: &["exports/daily/", "exports/adhoc/"] },
    Bucket { name: "acme-prod-backup-usw2", acct: 0, region: "us-west-2", kms_key: None, versioned: true, public_read: false, prefixes: &["db/", "fs/"] },
    Bucket { name: "acme-datalake-raw", acct: 1, region: "us-east-1", kms_key: Some("5e2b7c90-3d4f-4a61-b8e2-9f0c1d6a7e34"), versioned: false, public_read: false, prefixes: &["landing/partner=globex/", "landing/partner=initech/", "events/"] },
    Bucket { name: "acme-datalake-curated", acct: 1, region: "us-east-1", kms_key: Some("c71f2e08-9a4b-4d3c-a6e5-2b8f0d1c9e47"), versioned: true, public_read: false, prefixes: &["warehouse/orders/", "warehouse/customers/"] },
    Bucket { name: "acme-datalake-eu-raw", acct: 1, region: "eu-central-1", kms_key: None, versioned: false, public_read: false, prefixes: &["landing/", "events/"] },
    Bucket { name: "acme-sandbox-scratch", acct: 2, region: "us-east-1", kms_key: None, versioned: false, public_read: true, prefixes: &["public/", "scratch/"] },
    Bucket { name: "acme-sandbox-syd-ml", acct: 2, region: "ap-southeast-2", kms_key: Some("0b8e6d21-4c7a-4e95-9f13-6a2d8c5b1e09"), versioned: false, public_read: false, prefixes: &["datasets/", "models/", "checkpoints/"] },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum PKind {
    User,
    Role,
    SsoRole,
}

#[derive(Clone, Copy)]
enum Sess {
    None,
    EcsTask,
    Instance,
    Fixed(&'static str),
    Email(&'static [&'static str]),
    Numbered(&'static str),
}

#[derive(Clone, Copy)]
enum Net {
    Public(&'static [&'static str]),
    /// VPC endpoint id and the private /16 behind it.
    Vpce(&'static str, &'static str),
}

const S3R: u8 = 1;
const S3W: u8 = 2;
const MGMT: u8 = 4;
const KMS: u8 = 8;

struct Principal {
    kind: PKind,
    acct: usize,
    name: &'static str,
    id: &'static str,
    /// Role path, e.g. `aws-reserved/sso.amazonaws.com/`.
    path: &'static str,
    /// Regions it works in; empty = all of its account's.
    regions: &'static [&'static str],
    sess: Sess,
    sessions_per_hour: i64,
    /// Service whose AssumeRole calls create the sessions ("" = none logged here).
    assumed_by: &'static str,
    agents: &'static [&'static str],
    net: Net,
    does: u8,
    weight: u32,
    console: bool,
}

const UA_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.74.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.3 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/s3#1.66.2";
const UA_CLI: &str = "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1018-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exe-distrib#source cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#s3.cp";
const UA_CLI_MAC: &str = "aws-cli/2.21.2 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#s3api.put-object";
const UA_CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const UA_FIREFOX: &str = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
const UA_S3_CONSOLE: &str = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.772 Linux/5.10.227-198.884.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.422-b05 java/1.8.0_422 vendor/Oracle_Corporation cfg/retry-mode/standard]";
const UA_JAVA1: &str = "aws-sdk-java/1.11.1034 Linux/4.14.355-271.569.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/11.0.25+9-LTS java/11.0.25 vendor/Amazon.com_Inc. cfg/retry-mode/legacy";
const UA_JAVA2_APP: &str = "aws-sdk-java/2.29.6 Linux/5.10.228-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. md/io#sync md/http#Apache ua/2.1 app/uploader-service cfg/retry-mode#standard m/D,U";
const UA_JAVA2_GLUE: &str = "aws-sdk-java/2.28.16 Linux/5.10.228-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.13+11-LTS Java/17.0.13 scala/2.12.18 vendor/Amazon.com_Inc. exec-env/AWS_Glue md/io#sync md/http#Apache ua/2.1 cfg/retry-mode#legacy";
const UA_BOTO_EC2: &str = "Boto3/1.35.54 md/Botocore#1.35.54 ua/2.0 os/linux#6.1.112-124.190.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.10 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.54";
const UA_BOTO_LAMBDA: &str = "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.880.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145";
const UA_BOTO_SM: &str = "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.226-214.880.amzn2.x86_64 md/arch#x86_64 lang/python#3.10.14 md/pyimpl#CPython exec-env/AWS_ECS_EC2 cfg/retry-mode#standard Botocore/1.35.36 sagemaker/2.232.2";
const UA_GO: &str =
    "aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.187.0 m/E,g";
const UA_RCLONE: &str = "rclone/v1.68.1";
const UA_DATADOG: &str = "Datadog-AWS-Integration/3.0 aws-sdk-go/1.55.5 (go1.22.8; linux; amd64)";
const UA_ANON: &[&str] = &["curl/8.5.0", "python-requests/2.32.3", UA_FIREFOX, "Go-http-client/1.1"];

const SSO_ENG: &[&str] =
    &["jane.doe@acme.example", "raj.patel@acme.example", "li.wei@acme.example", "marta.nowak@acme.example"];
const SSO_ADMIN: &[&str] = &["ops-oncall@acme.example", "sam.okafor@acme.example"];

const P_LEGACY: usize = 2;
const P_BACKUP: usize = 3;
const P_UPLOADER: usize = 4;
const P_THUMB: usize = 6;
const P_ETL: usize = 7;
const P_SSO_ENG: usize = 8;
const P_EXPORTER: usize = 11;
const P_ML: usize = 12;
const P_GLOBEX: usize = 13;

#[rustfmt::skip]
const PRINCIPALS: &[Principal] = &[
    Principal { kind: PKind::User, acct: 0, name: "ci-deploy", id: "AIDAUDMR3K7Q2XJ5WBN4P", path: "", regions: &[], sess: Sess::None, sessions_per_hour: 0, assumed_by: "", agents: &[UA_TERRAFORM, UA_CLI], net: Net::Public(&["34.228.17.", "3.91.202."]), does: S3R | S3W | MGMT, weight: 3, console: false },
    Principal { kind: PKind::User, acct: 0, name: "alice.martin", id: "AIDAUDMR3K7QF4N8ZLHC2", path: "", regions: &[], sess: Sess::None, sessions_per_hour: 0, assumed_by: "", agents: &[UA_CLI_MAC, UA_CHROME], net: Net::Public(&["81.164.33."]), does: S3R | MGMT, weight: 1, console: true },
    Principal { kind: PKind::User, acct: 0, name: "legacy-batch", id: "AIDAUDMR3K7QW9T2MVE6S", path: "", regions: &["us-east-1"], sess: Sess::None, sessions_per_hour: 0, assumed_by: "", agents: &[UA_JAVA1], net: Net::Public(&["52.44.118."]), does: S3R | S3W, weight: 1, console: false },
    Principal { kind: PKind::User, acct: 0, name: "backup-agent", id: "AIDAUDMR3K7QK3C7RXD1Y", path: "", regions: &["us-west-2"], sess: Sess::None, sessions_per_hour: 0, assumed_by: "", agents: &[UA_RCLONE], net: Net::Vpce("vpce-0a1b2c3d4e5f60718", "10.40."), does: S3R | S3W, weight: 2, console: false },
    Principal { kind: PKind::Role, acct: 0, name: "app-uploader-role", id: "AROAUDMR3K7QB6H4NQP2T", path: "service-role/", regions: &["us-east-1"], sess: Sess::EcsTask, sessions_per_hour: 40, assumed_by: "ecs-tasks.amazonaws.com", agents: &[UA_JAVA2_APP], net: Net::Vpce("vpce-07c9e1f2a3b4c5d6e", "10.0."), does: S3R | S3W | KMS, weight: 6, console: false },
    Principal { kind: PKind::Role, acct: 0, name: "web-instance-role", id: "AROAUDMR3K7QH2L9VCX5M", path: "", regions: &["us-east-1", "us-west-2"], sess: Sess::Instance, sessions_per_hour: 6, assumed_by: "ec2.amazonaws.com", agents: &[UA_BOTO_EC2], net: Net::Public(&["54.210.91.", "44.201.7."]), does: S3R | MGMT | KMS, weight: 3, console: false },
    Principal { kind: PKind::Role, acct: 0, name: "media-thumbnailer-role", id: "AROAUDMR3K7QN5R1YBT8G", path: "service-role/", regions: &["eu-west-1"], sess: Sess::Fixed("media-thumbnailer"), sessions_per_hour: 12, assumed_by: "lambda.amazonaws.com", agents: &[UA_BOTO_LAMBDA], net: Net::Public(&["52.214.60.", "34.244.9."]), does: S3R | S3W | KMS, weight: 4, console: false },
    Principal { kind: PKind::Role, acct: 1, name: "etl-glue-job-role", id: "AROAYQ2W6E8R4T1U3I5OP", path: "", regions: &[], sess: Sess::Fixed("GlueJobRunnerSession"), sessions_per_hour: 12, assumed_by: "glue.amazonaws.com", agents: &[UA_JAVA2_GLUE], net: Net::Public(&["3.236.14.", "18.196.40."]), does: S3R | S3W | KMS, weight: 5, console: false },
    Principal { kind: PKind::SsoRole, acct: 0, name: "AWSReservedSSO_DataEngineer_2b7c1e9f0a3d4e56", id: "AROAUDMR3K7QS8D3JWF6A", path: "aws-reserved/sso.amazonaws.com/eu-west-1/", regions: &[], sess: Sess::Email(SSO_ENG), sessions_per_hour: 3, assumed_by: "", agents: &[UA_S3_CONSOLE, UA_CLI, UA_CHROME], net: Net::Public(&["81.164.33.", "94.109.12."]), does: S3R | S3W | MGMT, weight: 2, console: true },
    Principal { kind: PKind::SsoRole, acct: 1, name: "AWSReservedSSO_AdministratorAccess_8f3a2b1c4d5e6f70", id: "AROAYQ2W6E8RZ7X9C1V3B", path: "aws-reserved/sso.amazonaws.com/", regions: &[], sess: Sess::Email(SSO_ADMIN), sessions_per_hour: 2, assumed_by: "", agents: &[UA_CHROME, UA_CLI], net: Net::Public(&["94.109.12."]), does: S3R | MGMT, weight: 1, console: true },
    Principal { kind: PKind::SsoRole, acct: 2, name: "AWSReservedSSO_AdministratorAccess_1d9e4c7b2a6f8e30", id: "AROA5N7M2K4J6H8G0F2DS", path: "aws-reserved/sso.amazonaws.com/", regions: &[], sess: Sess::Email(SSO_ADMIN), sessions_per_hour: 2, assumed_by: "", agents: &[UA_CHROME, UA_CLI], net: Net::Public(&["94.109.12."]), does: S3R | MGMT, weight: 1, console: true },
    Principal { kind: PKind::Role, acct: 2, name: "sandbox-exporter-role", id: "AROA5N7M2K4JQ1W3E5R7T", path: "", regions: &["us-east-1"], sess: Sess::EcsTask, sessions_per_hour: 4, assumed_by: "ecs-tasks.amazonaws.com", agents: &[UA_BOTO_EC2], net: Net::Public(&["44.203.61."]), does: S3R | S3W, weight: 2, console: false },
    Principal { kind: PKind::Role, acct: 2, name: "ml-training-role", id: "AROA5N7M2K4JY9U1I3O5P", path: "service-role/", regions: &["ap-southeast-2"], sess: Sess::Fixed("SageMaker"), sessions_per_hour: 8, assumed_by: "sagemaker.amazonaws.com", agents: &[UA_BOTO_SM], net: Net::Public(&["13.236.8.", "3.104.77."]), does: S3R | S3W | KMS, weight: 4, console: false },
    Principal { kind: PKind::Role, acct: 3, name: "globex-sync-role", id: "AROA4H6J8K0L2Z4X6C8VB", path: "", regions: &["us-east-1"], sess: Sess::Numbered("globex-sync"), sessions_per_hour: 2, assumed_by: "", agents: &[UA_GO], net: Net::Public(&["198.51.100."]), does: 0, weight: 0, console: false },
    Principal { kind: PKind::User, acct: 1, name: "dl-ingest", id: "AIDAYQ2W6E8RM4N6B8V0C", path: "", regions: &[], sess: Sess::None, sessions_per_hour: 0, assumed_by: "", agents: &[UA_GO, UA_CLI], net: Net::Public(&["18.207.33.", "35.158.2."]), does: S3R | S3W | MGMT, weight: 2, console: false },
    Principal { kind: PKind::User, acct: 2, name: "sandbox-dev", id: "AIDA5N7M2K4JA2S4D6F8G", path: "", regions: &[], sess: Sess::None, sessions_per_hour: 0, assumed_by: "", agents: &[UA_CLI_MAC, UA_CLI], net: Net::Public(&["81.164.40.", "13.54.190."]), does: S3R | S3W | MGMT, weight: 2, console: false },
    Principal { kind: PKind::Role, acct: 0, name: "datadog-integration-role", id: "AROAUDMR3K7QT3G5B7N9K", path: "", regions: &[], sess: Sess::Fixed("DatadogAWSIntegration"), sessions_per_hour: 2, assumed_by: "", agents: &[UA_DATADOG], net: Net::Public(&["3.233.144.", "3.233.146."]), does: MGMT, weight: 3, console: false },
];

#[derive(Clone, Copy)]
enum Op {
    Put,
    CreateMpu,
    UploadPart,
    CompleteMpu,
    Copy,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Put => "PutObject",
            Op::CreateMpu => "CreateMultipartUpload",
            Op::UploadPart => "UploadPart",
            Op::CompleteMpu => "CompleteMultipartUpload",
            Op::Copy => "CopyObject",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Msg {
    Plain,
    Expired,
    NoIdentity,
    ExplicitIdentity,
    ExplicitResource,
    NoResource,
    ExplicitScp,
    ExplicitRcp,
    NoVpce,
    ExplicitBoundary,
    NoBoundary,
    ExplicitSession,
    NoSession,
    BlockPublicAcls,
    SseC,
    KmsNoIdentity,
    KmsNoResource,
}

/// How the denied caller shows up in the record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DenyWho {
    Caller(usize),
    /// The bucket owner's copy of a cross-account call: `AWSAccount` identity.
    OwnerCopy(usize),
    Anonymous,
}

const H_ACL_BOFC: u8 = 1;
const H_EXPECTED_OWNER: u8 = 2;
const H_LOCK: u8 = 4;
const H_STORAGE: u8 = 8;
const H_PRESIGNED: u8 = 16;

/// A recurring denied-write pattern, landing in the trail of `acct`/`region`.
struct Deny {
    acct: usize,
    region: &'static str,
    who: DenyWho,
    bucket: &'static str,
    prefixes: &'static [&'static str],
    ops: &'static [(Op, u32)],
    msgs: &'static [(Msg, u32)],
    headers: u8,
    weight: u32,
}

#[rustfmt::skip]
const DENIES: &[Deny] = &[
    Deny { acct: 0, region: "us-east-1", who: DenyWho::Caller(P_LEGACY), bucket: "acme-prod-uploads", prefixes: &["incoming/batch/"], ops: &[(Op::Put, 1)], msgs: &[(Msg::NoIdentity, 7), (Msg::Plain, 3)], headers: H_STORAGE, weight: 3 },
    Deny { acct: 0, region: "us-east-1", who: DenyWho::Caller(P_UPLOADER), bucket: "acme-prod-uploads", prefixes: &["user-content/", "user-content/avatars/"], ops: &[(Op::Put, 60), (Op::CreateMpu, 15), (Op::UploadPart, 20), (Op::CompleteMpu, 5)], msgs: &[(Msg::ExplicitResource, 40), (Msg::KmsNoIdentity, 30), (Msg::Plain, 15), (Msg::Expired, 5), (Msg::NoIdentity, 10)], headers: H_PRESIGNED, weight: 5 },
    Deny { acct: 0, region: "eu-west-1", who: DenyWho::Caller(P_SSO_ENG), bucket: "acme-prod-eu-exports", prefixes: &["exports/adhoc/", "exports/shared/"], ops: &[(Op::Copy, 50), (Op::Put, 50)], msgs: &[(Msg::BlockPublicAcls, 40), (Msg::NoBoundary, 30), (Msg::ExplicitSession, 30)], headers: 0, weight: 2 },
    Deny { acct: 0, region: "eu-west-1", who: DenyWho::Caller(P_THUMB), bucket: "acme-prod-eu-media", prefixes: &["media/thumbs/"], ops: &[(Op::Put, 1)], msgs: &[(Msg::SseC, 5), (Msg::NoIdentity, 5)], headers: 0, weight: 2 },
    Deny { acct: 0, region: "us-west-2", who: DenyWho::Caller(P_BACKUP), bucket: "acme-prod-backup-usw2", prefixes: &["db/", "fs/home/"], ops: &[(Op::Put, 40), (Op::CreateMpu, 20), (Op::UploadPart, 40)], msgs: &[(Msg::ExplicitIdentity, 6), (Msg::Plain, 4)], headers: H_LOCK, weight: 3 },
    Deny { acct: 1, region: "us-east-1", who: DenyWho::Caller(P_ETL), bucket: "acme-datalake-curated", prefixes: &["warehouse/orders/", "warehouse/customers/"], ops: &[(Op::Put, 50), (Op::UploadPart, 30), (Op::CreateMpu, 20)], msgs: &[(Msg::ExplicitScp, 4), (Msg::KmsNoResource, 3), (Msg::NoIdentity, 3)], headers: 0, weight: 4 },
    Deny { acct: 1, region: "us-east-1", who: DenyWho::OwnerCopy(P_EXPORTER), bucket: "acme-datalake-raw", prefixes: &["landing/partner=initech/"], ops: &[(Op::Put, 1)], msgs: &[(Msg::NoResource, 1)], headers: H_ACL_BOFC, weight: 1 },
    Deny { acct: 1, region: "us-east-1", who: DenyWho::OwnerCopy(P_GLOBEX), bucket: "acme-datalake-raw", prefixes: &["landing/partner=globex/"], ops: &[(Op::Put, 8), (Op::CreateMpu, 2)], msgs: &[(Msg::Plain, 1)], headers: H_ACL_BOFC | H_EXPECTED_OWNER, weight: 2 },
    Deny { acct: 1, region: "eu-central-1", who: DenyWho::Caller(P_ETL), bucket: "acme-datalake-eu-raw", prefixes: &["landing/", "events/"], ops: &[(Op::Put, 1)], msgs: &[(Msg::NoVpce, 5), (Msg::ExplicitRcp, 5)], headers: 0, weight: 2 },
    Deny { acct: 2, region: "us-east-1", who: DenyWho::Caller(P_EXPORTER), bucket: "acme-datalake-raw", prefixes: &["landing/partner=initech/"], ops: &[(Op::Put, 1)], msgs: &[(Msg::NoResource, 1)], headers: H_ACL_BOFC, weight: 2 },
    Deny { acct: 2, region: "us-east-1", who: DenyWho::Anonymous, bucket: "acme-sandbox-scratch", prefixes: &["public/uploads/"], ops: &[(Op::Put, 1)], msgs: &[(Msg::Plain, 1)], headers: 0, weight: 2 },
    Deny { acct: 2, region: "ap-southeast-2", who: DenyWho::Caller(P_ML), bucket: "acme-sandbox-syd-ml", prefixes: &["checkpoints/", "models/"], ops: &[(Op::Put, 40), (Op::CreateMpu, 20), (Op::UploadPart, 40)], msgs: &[(Msg::ExplicitBoundary, 5), (Msg::NoSession, 2), (Msg::NoIdentity, 3)], headers: H_LOCK, weight: 3 },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    GetObject,
    HeadObject,
    PutObject,
    ListObjects,
    Multipart,
    CopyObject,
    DeleteObject,
    NoSuchKey,
    GetDenied,
    TrailDelivery,
    KmsDecrypt,
    KmsGenerateDataKey,
    AssumeRole,
    GetCallerIdentity,
    Ec2Describe,
    IamGet,
    PolicyChange,
}

/// Per-1000 weights of the non-denied mix, roughly a busy account with S3 data events on.
const MIX: &[(Kind, u32)] = &[
    (Kind::GetObject, 200),
    (Kind::HeadObject, 90),
    (Kind::PutObject, 90),
    (Kind::ListObjects, 50),
    (Kind::Multipart, 40),
    (Kind::CopyObject, 10),
    (Kind::DeleteObject, 15),
    (Kind::NoSuchKey, 15),
    (Kind::GetDenied, 5),
    (Kind::TrailDelivery, 20),
    (Kind::KmsDecrypt, 110),
    (Kind::KmsGenerateDataKey, 60),
    (Kind::AssumeRole, 20),
    (Kind::GetCallerIdentity, 15),
    (Kind::Ec2Describe, 100),
    (Kind::IamGet, 50),
    (Kind::PolicyChange, 1),
];

/// One account/region: one series of delivery files.
struct Stream {
    acct: usize,
    region: &'static str,
    busy: u8,
    buckets: Vec<usize>,
    s3r: Vec<(usize, u32)>,
    s3w: Vec<(usize, u32)>,
    mgmt: Vec<(usize, u32)>,
    kms: Vec<(usize, u32)>,
    assumable: Vec<usize>,
    denies: Vec<(usize, u32)>,
    mix: Vec<(Kind, u32)>,
}

struct World {
    streams: Vec<Stream>,
}

impl World {
    fn new() -> Self {
        let mut streams = Vec::new();
        for (ai, a) in ACCOUNTS.iter().enumerate() {
            for &region in a.regions {
                let works = |p: &Principal| p.acct == ai && (p.regions.is_empty() || p.regions.contains(&region));
                let pool = |bit: u8| -> Vec<(usize, u32)> {
                    PRINCIPALS
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| works(p) && p.does & bit != 0)
                        .map(|(i, p)| (i, p.weight))
                        .collect()
                };
                let s3r = pool(S3R);
                let s3w = pool(S3W);
                let mgmt = pool(MGMT);
                let kms = pool(KMS);
                let kms = if kms.is_empty() { s3r.clone() } else { kms };
                let assumable = PRINCIPALS
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| works(p) && !p.assumed_by.is_empty())
                    .map(|(i, _)| i)
                    .collect();
                let buckets: Vec<usize> =
                    (0..BUCKETS.len()).filter(|&b| BUCKETS[b].acct == ai && BUCKETS[b].region == region).collect();
                let denies: Vec<(usize, u32)> = DENIES
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.acct == ai && d.region == region)
                    .map(|(i, d)| (i, d.weight))
                    .collect();
                let home = region == "us-east-1";
                let mix = MIX
                    .iter()
                    .copied()
                    .filter(|(k, _)| home || !matches!(k, Kind::IamGet | Kind::TrailDelivery))
                    .collect();
                let busy = match (ai, home) {
                    (0, true) => 3,
                    (_, true) => 2,
                    _ => 1,
                };
                assert!(
                    !buckets.is_empty() && !s3r.is_empty() && !s3w.is_empty() && !mgmt.is_empty() && !denies.is_empty()
                );
                streams.push(Stream { acct: ai, region, busy, buckets, s3r, s3w, mgmt, kms, assumable, denies, mix });
            }
        }
        World { streams }
    }
}

fn bucket_named(name: &str) -> &'static Bucket {
    BUCKETS.iter().find(|b| b.name == name).expect("bucket in table")
}

fn region_no(region: &str) -> u64 {
    region.bytes().fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)))
}

// ---------------------------------------------------------------- record writers

/// The caller of one record.
#[derive(Clone, Copy)]
enum Who {
    Anonymous,
    /// Principal, session number (roles) and its creation time.
    P {
        p: usize,
        s: i64,
        created: i64,
        console: bool,
    },
}

#[derive(Clone, Copy)]
enum Pool {
    S3Read,
    S3Write,
    Mgmt,
    Kms,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Full,
    /// Bucket owner's copy of a cross-account call.
    Owner,
    /// Called by a service on the principal's behalf (`invokedBy`).
    Via(&'static str),
}

enum Tls<'a> {
    None,
    Host(&'static str),
    Regional(&'static str),
    S3(&'a Bucket),
}

struct Gen<'a> {
    st: &'a Stream,
    rng: Rng,
    file: u64,
    rec: u32,
    denied_ratio: f64,
    delivery: i64,
    key: String,
    tls13: bool,
    denied: u64,
}

impl Gen<'_> {
    fn time(&mut self) -> i64 {
        self.delivery - 1 - self.rng.below(WINDOW as u64) as i64
    }

    /// One record, chosen from the mix.
    fn record(&mut self, o: &mut String) {
        self.rec += 1;
        self.tls13 = self.rng.chance(0.8);
        let t = self.time();
        if self.rng.chance(self.denied_ratio) {
            self.denied_write(o, t);
            self.denied += 1;
            return;
        }
        let kind = self.rng.weighted(&self.st.mix);
        match kind {
            Kind::GetObject | Kind::HeadObject | Kind::NoSuchKey | Kind::GetDenied => self.s3_read(o, t, kind),
            Kind::PutObject | Kind::Multipart | Kind::CopyObject | Kind::DeleteObject => self.s3_write(o, t, kind),
            Kind::ListObjects => self.s3_list(o, t),
            Kind::TrailDelivery => self.trail_delivery(o, t),
            Kind::KmsDecrypt | Kind::KmsGenerateDataKey => self.kms(o, t, kind == Kind::KmsDecrypt),
            Kind::AssumeRole => {
                if self.st.assumable.is_empty() {
                    self.caller_identity(o, t)
                } else {
                    let p = self.rng.pick(&self.st.assumable);
                    // A session nobody uses in this trail.
                    let s = (1 << 40) + (self.rng.next() >> 24) as i64;
                    self.assume_role(o, p, s, t)
                }
            }
            Kind::GetCallerIdentity => self.caller_identity(o, t),
            Kind::Ec2Describe => self.ec2(o, t),
            Kind::IamGet => self.iam(o, t),
            Kind::PolicyChange => self.policy_change(o, t),
        }
    }

    /// AssumeRole calls that create the sessions used in this slot, so ASIA keys can be traced.
    fn scheduled_assume_roles(&mut self, o: &mut String) {
        let (a, b) = (self.delivery - DELIVERY_EVERY - 60, self.delivery - 60);
        for pi in 0..self.st.assumable.len() {
            let p = self.st.assumable[pi];
            let period = 3600 / PRINCIPALS[p].sessions_per_hour.max(1);
            for s in a.div_euclid(period)..=(b - 1).div_euclid(period) {
                let c = self.session_created(p, s);
                if (a..b).contains(&c) {
                    if self.rec > 0 {
                        o.push(',');
                    }
                    self.rec += 1;
                    self.tls13 = true;
                    self.assume_role(o, p, s, c);
                }
            }
        }
    }

    // ----- identities

    fn session_hash(&self, p: usize, s: i64) -> u64 {
        hash3(p as u64, region_no(self.st.region), s as u64)
    }

    fn session_created(&self, p: usize, s: i64) -> i64 {
        let period = 3600 / PRINCIPALS[p].sessions_per_hour.max(1);
        s * period + (self.session_hash(p, s) % period as u64) as i64
    }

    /// A live session of principal `p` at time `t`.
    fn who(&mut self, p: usize, t: i64) -> Who {
        let pr = &PRINCIPALS[p];
        if pr.kind == PKind::User {
            let console = pr.console && self.rng.chance(0.5);
            let created = t - self.rng.below(3000) as i64;
            return Who::P { p, s: 0, created, console };
        }
        let per_hour = pr.sessions_per_hour.max(1);
        let period = 3600 / per_hour;
        let mut s = t.div_euclid(period) - self.rng.below(per_hour as u64) as i64;
        let mut created = self.session_created(p, s);
        if created > t {
            s -= 1;
            created = self.session_created(p, s);
        }
        Who::P { p, s, created, console: pr.kind == PKind::SsoRole && self.rng.chance(0.6) }
    }

    fn pick_who(&mut self, pool: Pool, t: i64) -> Who {
        let st = self.st;
        let pool = match pool {
            Pool::S3Read => &st.s3r,
            Pool::S3Write => &st.s3w,
            Pool::Mgmt => &st.mgmt,
            Pool::Kms => &st.kms,
        };
        let p = self.rng.weighted(pool);
        self.who(p, t)
    }

    fn push_session_name(&self, o: &mut String, p: usize, s: i64) {
        let h = hash2(self.session_hash(p, s), 7);
        match PRINCIPALS[p].sess {
            Sess::None => {}
            Sess::EcsTask => {
                push_hex_u64(o, h, 16);
                push_hex_u64(o, mix64(h), 16);
            }
            Sess::Instance => {
                o.push_str("i-0");
                push_hex_u64(o, hash2(p as u64 ^ region_no(self.st.region), s.rem_euclid(4) as u64), 16);
            }
            Sess::Fixed(name) => o.push_str(name),
            Sess::Email(list) => o.push_str(list[(h % list.len() as u64) as usize]),
            Sess::Numbered(prefix) => {
                o.push_str(prefix);
                o.push('-');
                push_num(o, self.session_created(p, s) as u64);
            }
        }
    }

    fn push_key_id(&self, o: &mut String, who: Who) {
        if let Who::P { p, s, created, console } = who {
            let pr = &PRINCIPALS[p];
            if pr.kind == PKind::User && !console {
                o.push_str("AKIA");
                push_hashed(o, hash2(p as u64, 0x616b), B32, 16);
            } else {
                o.push_str("ASIA");
                let h = if pr.kind == PKind::User { hash2(p as u64, created as u64) } else { self.session_hash(p, s) };
                push_hashed(o, h, B32, 16);
            }
        }
    }

    fn push_arn(&self, o: &mut String, p: usize, s: i64) {
        let pr = &PRINCIPALS[p];
        let acct = ACCOUNTS[pr.acct].id;
        if pr.kind == PKind::User {
            let _ = write!(o, "arn:aws:iam::{acct}:user/{}", pr.name);
        } else {
            let _ = write!(o, "arn:aws:sts::{acct}:assumed-role/{}/", pr.name);
            self.push_session_name(o, p, s);
        }
    }

    fn push_identity(&self, o: &mut String, who: Who, view: View) {
        let Who::P { p, s, created, console } = who else {
            o.push_str(r#"{"type":"AWSAccount","principalId":"","accountId":"ANONYMOUS_PRINCIPAL"}"#);
            return;
        };
        let pr = &PRINCIPALS[p];
        let acct = ACCOUNTS[pr.acct].id;
        if view == View::Owner {
            o.push_str(r#"{"type":"AWSAccount","principalId":""#);
            o.push_str(pr.id);
            if pr.kind != PKind::User {
                o.push(':');
                self.push_session_name(o, p, s);
            }
            let _ = write!(o, r#"","accountId":"{acct}"}}"#);
            return;
        }
        let ty = if pr.kind == PKind::User { "IAMUser" } else { "AssumedRole" };
        let _ = write!(o, r#"{{"type":"{ty}","principalId":"{}"#, pr.id);
        if pr.kind != PKind::User {
            o.push(':');
            self.push_session_name(o, p, s);
        }
        o.push_str(r#"","arn":""#);
        self.push_arn(o, p, s);
        let _ = write!(o, r#"","accountId":"{acct}","accessKeyId":""#);
        self.push_key_id(o, who);
        o.push('"');
        if pr.kind == PKind::User {
            let _ = write!(o, r#","userName":"{}""#, pr.name);
            if console {
                o.push_str(
                    r#","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":""#,
                );
                push_time(o, created);
                o.push_str(r#"","mfaAuthenticated":"true"}}"#);
            }
        } else {
            let _ = write!(
                o,
                r#","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{}","arn":"arn:aws:iam::{acct}:role/{}{}","accountId":"{acct}","userName":"{}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":""#,
                pr.id, pr.path, pr.name, pr.name
            );
            push_time(o, created);
            o.push_str(r#"","mfaAuthenticated":"false"}"#);
            if matches!(pr.sess, Sess::Instance) {
                o.push_str(r#","ec2RoleDelivery":"2.0""#);
            }
            o.push('}');
        }
        if let View::Via(svc) = view {
            let _ = write!(o, r#","invokedBy":"{svc}""#);
        }
        o.push('}');
    }

    /// `"sourceIPAddress":…,"userAgent":…`; returns the VPC endpoint used, if any.
    fn push_source(&mut self, o: &mut String, who: Who, view: View) -> Option<&'static str> {
        if let View::Via(svc) = view {
            let _ = write!(o, r#","sourceIPAddress":"{svc}","userAgent":"{svc}""#);
            return None;
        }
        o.push_str(r#","sourceIPAddress":""#);
        let (ua, vpce) = match who {
            Who::Anonymous => {
                let _ = write!(
                    o,
                    "{}.{}.{}.{}",
                    self.rng.range(24, 203),
                    self.rng.below(256),
                    self.rng.below(256),
                    self.rng.range(1, 254)
                );
                (self.rng.pick(UA_ANON), None)
            }
            Who::P { p, console, .. } => {
                let pr = &PRINCIPALS[p];
                let vpce = match pr.net {
                    Net::Public(prefixes) => {
                        o.push_str(self.rng.pick(prefixes));
                        push_num(o, self.rng.range(1, 254));
                        None
                    }
                    Net::Vpce(id, net) => {
                        let _ = write!(o, "{net}{}.{}", self.rng.below(64), self.rng.range(1, 254));
                        Some(id)
                    }
                };
                let ua = if console { UA_CHROME } else { self.rng.pick(pr.agents) };
                (ua, vpce)
            }
        };
        o.push_str(r#"","userAgent":""#);
        o.push_str(ua);
        o.push('"');
        vpce
    }

    /// `{"eventVersion":…,"userIdentity":…,"eventTime":…,"eventSource":…,"eventName":…,"awsRegion":…`
    #[allow(clippy::too_many_arguments)]
    fn push_head(
        &self,
        o: &mut String,
        version: &str,
        who: Who,
        view: View,
        t: i64,
        source: &str,
        name: &str,
        region: &str,
    ) {
        let _ = write!(o, r#"{{"eventVersion":"{version}","userIdentity":"#);
        self.push_identity(o, who, view);
        o.push_str(r#","eventTime":""#);
        push_time(o, t);
        let _ = write!(o, r#"","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}""#);
    }

    /// `,"requestID":…,"eventID":…,"readOnly":…`
    fn push_ids(&mut self, o: &mut String, s3: bool, read_only: bool) {
        o.push_str(r#","requestID":""#);
        if s3 {
            push_chars(o, &mut self.rng, UPNUM, 16);
        } else {
            let (a, b) = (self.rng.next(), self.rng.next());
            push_uuid(o, a, b);
        }
        o.push_str(r#"","eventID":""#);
        self.push_event_id(o);
        let _ = write!(o, r#"","readOnly":{read_only}"#);
    }

    /// Unique per record: 60 bits are a bijection of (file, record), the rest random.
    fn push_event_id(&mut self, o: &mut String) {
        const M: u64 = (1 << 60) - 1;
        let mut v = ((self.file << 24) | u64::from(self.rec)) & M;
        for k in [0x9e37_79b9_7f4a_7c15u64, 0xbf58_476d_1ce4_e5b9, 0x94d0_49bb_1331_111b] {
            v = (v.wrapping_mul(k | 1)) & M;
            v ^= v >> 29;
        }
        let hi = ((v >> 12) << 16) | (v & 0xfff);
        let lo = self.rng.next();
        push_uuid(o, hi, lo);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_tail(
        &mut self,
        o: &mut String,
        mgmt: bool,
        recipient: &str,
        shared: bool,
        vpce: Option<&str>,
        category: &str,
        tls: Tls,
        console: bool,
    ) {
        let _ = write!(o, r#","eventType":"AwsApiCall","managementEvent":{mgmt},"recipientAccountId":"{recipient}""#);
        if shared {
            o.push_str(r#","sharedEventID":""#);
            let (a, b) = (self.rng.next(), self.rng.next());
            push_uuid(o, a, b);
            o.push('"');
        }
        if let Some(v) = vpce {
            let _ = write!(o, r#","vpcEndpointId":"{v}","vpcEndpointAccountId":"{recipient}""#);
        }
        let _ = write!(o, r#","eventCategory":"{category}""#);
        let (ver, cs) = self.tls();
        match tls {
            Tls::None => {}
            Tls::Host(h) => {
                let _ = write!(
                    o,
                    r#","tlsDetails":{{"tlsVersion":"{ver}","cipherSuite":"{cs}","clientProvidedHostHeader":"{h}"}}"#
                );
            }
            Tls::Regional(svc) => {
                let _ = write!(
                    o,
                    r#","tlsDetails":{{"tlsVersion":"{ver}","cipherSuite":"{cs}","clientProvidedHostHeader":"{svc}.{}.amazonaws.com"}}"#,
                    self.st.region
                );
            }
            Tls::S3(b) => {
                let _ = write!(
                    o,
                    r#","tlsDetails":{{"tlsVersion":"{ver}","cipherSuite":"{cs}","clientProvidedHostHeader":""#
                );
                push_host(o, b);
                o.push_str("\"}");
            }
        }
        if console {
            o.push_str(r#","sessionCredentialFromConsole":"true""#);
        }
        o.push('}');
    }

    fn tls(&self) -> (&'static str, &'static str) {
        if self.tls13 { ("TLSv1.3", "TLS_AES_128_GCM_SHA256") } else { ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256") }
    }

    fn push_x_amz_id_2(&mut self, o: &mut String) {
        o.push_str(r#","x-amz-id-2":""#);
        push_bits(o, &mut self.rng, B64, 75);
        o.push_str("=\"");
    }

    // ----- object keys

    /// Fills `self.key` with a plausible key under `prefix`.
    fn make_key(&mut self, prefix: &str, t: i64) {
        const WORDS: &[&str] = &[
            "order",
            "invoice",
            "photo",
            "avatar",
            "report",
            "event",
            "batch",
            "snapshot",
            "export",
            "manifest",
            "session",
            "clickstream",
        ];
        const EXTS: &[&str] =
            &[".json", ".json.gz", ".csv", ".parquet", ".jpg", ".png", ".pdf", ".tar.gz", ".zip", ".log"];
        const ODD: &[&str] = &[
            "Q3 report (final) – résumé.pdf",
            "say \"hi\".txt",
            "C:\\temp\\upload.log",
            "naïve café/ménu.txt",
            "tab\there.csv",
            "日本語/ファイル.txt",
        ];
        let k = &mut self.key;
        k.clear();
        k.push_str(prefix);
        let (y, m, d, h, _, _) = civil(t);
        let r = self.rng.below(1000);
        if r < 3 {
            k.push_str(self.rng.pick(ODD));
        } else if r < 400 {
            let _ = write!(k, "{y}/{m:02}/{d:02}/{}-", self.rng.pick(WORDS));
            push_bits(k, &mut self.rng, HEX, 8);
            k.push_str(self.rng.pick(EXTS));
        } else if r < 700 {
            push_bits(k, &mut self.rng, HEX, 12);
            k.push('/');
            k.push_str(self.rng.pick(WORDS));
            k.push_str(self.rng.pick(EXTS));
        } else if r < 900 {
            let _ = write!(k, "dt={y}-{m:02}-{d:02}/hour={h:02}/part-{:05}-", self.rng.below(200));
            let (a, b) = (self.rng.next(), self.rng.next());
            push_uuid(k, a, b);
            k.push_str(".snappy.parquet");
        } else {
            let _ = write!(k, "{}_{}", self.rng.pick(WORDS), 100_000 + self.rng.below(900_000));
            k.push_str(self.rng.pick(EXTS));
        }
    }

    fn pick_bucket(&mut self) -> &'static Bucket {
        &BUCKETS[self.rng.pick(&self.st.buckets)]
    }

    fn push_kms_arn(&self, o: &mut String, b: &Bucket) {
        let id = b.kms_key.unwrap_or("1c4e7a90-6b2d-4f83-9e15-7d0a3c8b2f61");
        let _ = write!(o, "arn:aws:kms:{}:{}:key/{id}", b.region, ACCOUNTS[b.acct].id);
    }

    /// `"bucketName":…,"Host":…,"key":…` (no braces).
    fn push_bucket_key(&self, o: &mut String, b: &Bucket) {
        let _ = write!(o, r#""bucketName":"{}","Host":""#, b.name);
        push_host(o, b);
        o.push_str(r#"","key":""#);
        push_esc(o, &self.key);
        o.push('"');
    }

    /// `,"resources":[object, bucket]`.
    fn push_object_resources(&self, o: &mut String, b: &Bucket, owner_known: bool) {
        let _ = write!(o, r#","resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::{}/"#, b.name);
        push_esc(o, &self.key);
        o.push_str(r#""},{"#);
        if owner_known {
            let _ = write!(o, r#""accountId":"{}","#, ACCOUNTS[b.acct].id);
        }
        let _ = write!(o, r#""type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{}"}}]"#, b.name);
    }

    fn push_additional(
        &mut self,
        o: &mut String,
        signed: bool,
        presigned: bool,
        bytes_in: u64,
        sse: Option<&str>,
        bytes_out: u64,
    ) {
        let (_, cs) = self.tls();
        o.push_str(r#","additionalEventData":{"#);
        if signed {
            o.push_str(r#""SignatureVersion":"SigV4","#);
        }
        let _ = write!(o, r#""CipherSuite":"{cs}","bytesTransferredIn":{bytes_in}"#);
        if let Some(s) = sse {
            let _ = write!(o, r#","SSEApplied":"{s}""#);
        }
        if signed {
            o.push_str(if presigned {
                r#","AuthenticationMethod":"QueryString""#
            } else {
                r#","AuthenticationMethod":"AuthHeader""#
            });
        }
        self.push_x_amz_id_2(o);
        let _ = write!(o, r#","bytesTransferredOut":{bytes_out}}}"#);
    }

    // ----- S3 data events

    fn s3_read(&mut self, o: &mut String, t: i64, kind: Kind) {
        let b = self.pick_bucket();
        let prefix = self.rng.pick(b.prefixes);
        let anon = b.public_read && self.rng.chance(0.3);
        let who = if anon { Who::Anonymous } else { self.pick_who(Pool::S3Read, t) };
        self.make_key(prefix, t);
        let name = if kind == Kind::HeadObject { "HeadObject" } else { "GetObject" };
        self.push_head(o, "1.11", who, View::Full, t, "s3.amazonaws.com", name, b.region);
        let vpce = self.push_source(o, who, View::Full);
        match kind {
            Kind::NoSuchKey => {
                o.push_str(r#","errorCode":"NoSuchKey","errorMessage":"The specified key does not exist.""#)
            }
            Kind::GetDenied => {
                o.push_str(r#","errorCode":"AccessDenied","errorMessage":""#);
                match who {
                    Who::P { p, s, .. } if self.rng.chance(0.6) => {
                        o.push_str("User: ");
                        self.push_arn(o, p, s);
                        let _ = write!(
                            o,
                            r#" is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::{}/"#,
                            b.name
                        );
                        push_esc(o, &self.key);
                        o.push_str(r#"\" because no identity-based policy allows the s3:GetObject action""#);
                    }
                    _ => o.push_str("Access Denied\""),
                }
            }
            _ => {}
        }
        o.push_str(r#","requestParameters":{"#);
        self.push_bucket_key(o, b);
        if self.rng.chance(0.4) {
            let _ = write!(o, r#","x-id":"{name}""#);
        }
        if kind == Kind::GetObject && self.rng.chance(0.15) {
            let _ = write!(o, r#","Range":"bytes=0-{}""#, (1u64 << 20) * self.rng.range(1, 16) - 1);
        }
        o.push_str(r#"},"responseElements":null"#);
        let ok = matches!(kind, Kind::GetObject | Kind::HeadObject);
        let out = if kind == Kind::GetObject {
            self.rng.range(200, 8 << 20)
        } else if ok {
            0
        } else {
            243
        };
        let sse = if !ok {
            None
        } else if b.kms_key.is_some() {
            Some("SSE_KMS")
        } else {
            Some("Default_SSE_S3")
        };
        let presigned = !anon && self.rng.chance(0.05);
        self.push_additional(o, !anon, presigned, 0, sse, out);
        self.push_ids(o, true, true);
        self.push_object_resources(o, b, true);
        let acct = ACCOUNTS[self.st.acct].id;
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, false, acct, false, vpce, "Data", Tls::S3(b), console);
    }

    fn s3_write(&mut self, o: &mut String, t: i64, kind: Kind) {
        let b = self.pick_bucket();
        let prefix = self.rng.pick(b.prefixes);
        let who = self.pick_who(Pool::S3Write, t);
        self.make_key(prefix, t);
        let name = match kind {
            Kind::PutObject => "PutObject",
            Kind::CopyObject => "CopyObject",
            Kind::DeleteObject => "DeleteObject",
            _ => {
                self.rng.weighted(&[("CreateMultipartUpload", 15), ("UploadPart", 75), ("CompleteMultipartUpload", 10)])
            }
        };
        self.push_head(o, "1.11", who, View::Full, t, "s3.amazonaws.com", name, b.region);
        let vpce = self.push_source(o, who, View::Full);
        o.push_str(r#","requestParameters":{"#);
        self.push_bucket_key(o, b);
        let kms = b.kms_key.is_some();
        let writes_data = matches!(name, "PutObject" | "CreateMultipartUpload" | "CopyObject");
        match name {
            "CreateMultipartUpload" => o.push_str(r#","uploads":"""#),
            "UploadPart" => {
                let _ = write!(o, r#","partNumber":"{}","uploadId":""#, self.rng.range(1, 400));
                push_bits(o, &mut self.rng, URLSAFE, 64);
                o.push('"');
            }
            "CompleteMultipartUpload" => {
                o.push_str(r#","uploadId":""#);
                push_bits(o, &mut self.rng, URLSAFE, 64);
                o.push('"');
            }
            "CopyObject" => {
                let _ = write!(o, r#","x-amz-copy-source":"{}/{}"#, b.name, self.rng.pick(b.prefixes));
                push_bits(o, &mut self.rng, HEX, 12);
                o.push_str(".json\"");
            }
            _ => {}
        }
        if writes_data && kms && self.rng.chance(0.5) {
            o.push_str(r#","x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":""#);
            self.push_kms_arn(o, b);
            o.push('"');
        }
        if writes_data && self.rng.chance(0.1) {
            o.push_str(r#","x-amz-storage-class":"INTELLIGENT_TIERING""#);
        }
        o.push('}');
        if name == "DeleteObject" || name == "UploadPart" {
            o.push_str(r#","responseElements":null"#);
        } else {
            o.push_str(r#","responseElements":{"x-amz-server-side-encryption":""#);
            if kms {
                o.push_str(r#"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":""#);
                self.push_kms_arn(o, b);
                o.push_str(r#"","x-amz-server-side-encryption-bucket-key-enabled":"true""#);
            } else {
                o.push_str("AES256\"");
            }
            if b.versioned && name != "CreateMultipartUpload" {
                o.push_str(r#","x-amz-version-id":""#);
                push_bits(o, &mut self.rng, URLSAFE, 32);
                o.push('"');
            }
            o.push('}');
        }
        let bytes_in = match name {
            "PutObject" => self.rng.range(120, 6 << 20),
            "UploadPart" => 8 << 20,
            "CompleteMultipartUpload" => self.rng.range(200, 9000),
            _ => 0,
        };
        let sse = if name == "DeleteObject" {
            None
        } else if kms {
            Some("SSE_KMS")
        } else {
            Some("Default_SSE_S3")
        };
        let out = if name == "CreateMultipartUpload" || name == "CompleteMultipartUpload" { 400 } else { 0 };
        self.push_additional(o, true, false, bytes_in, sse, out);
        self.push_ids(o, true, false);
        self.push_object_resources(o, b, true);
        let acct = ACCOUNTS[self.st.acct].id;
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, false, acct, false, vpce, "Data", Tls::S3(b), console);
    }

    fn s3_list(&mut self, o: &mut String, t: i64) {
        let b = self.pick_bucket();
        let prefix = self.rng.pick(b.prefixes);
        let who = self.pick_who(Pool::S3Read, t);
        self.push_head(o, "1.11", who, View::Full, t, "s3.amazonaws.com", "ListObjects", b.region);
        let vpce = self.push_source(o, who, View::Full);
        let _ = write!(
            o,
            r#","requestParameters":{{"list-type":"2","bucketName":"{}","encoding-type":"url","prefix":"{prefix}","delimiter":"/","Host":""#,
            b.name
        );
        push_host(o, b);
        o.push_str(r#""},"responseElements":null"#);
        let out = self.rng.range(300, 60_000);
        self.push_additional(o, true, false, 0, None, out);
        self.push_ids(o, true, true);
        let _ = write!(
            o,
            r#","resources":[{{"type":"AWS::S3::Object","ARNPrefix":"arn:aws:s3:::{}/{prefix}"}},{{"accountId":"{}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{}"}}]"#,
            b.name, ACCOUNTS[b.acct].id, b.name
        );
        let acct = ACCOUNTS[self.st.acct].id;
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, false, acct, false, vpce, "Data", Tls::S3(b), console);
    }

    /// CloudTrail writing one of its own log files (analyzers should ignore these PutObjects).
    fn trail_delivery(&mut self, o: &mut String, t: i64) {
        let a = &ACCOUNTS[self.st.acct];
        let region = self.rng.pick(a.regions);
        let b = Bucket {
            name: a.trail_bucket,
            acct: self.st.acct,
            region: "us-east-1",
            kms_key: None,
            versioned: false,
            public_read: false,
            prefixes: &[],
        };
        let d = (t - 30).div_euclid(300) * 300;
        let (y, m, dd, h, mi, _) = civil(d);
        self.key.clear();
        let _ = write!(
            self.key,
            "AWSLogs/{0}/CloudTrail/{region}/{y}/{m:02}/{dd:02}/{0}_CloudTrail_{region}_{y}{m:02}{dd:02}T{h:02}{mi:02}Z_",
            a.id
        );
        push_chars(&mut self.key, &mut self.rng, ALNUM, 16);
        self.key.push_str(".json.gz");
        o.push_str(r#"{"eventVersion":"1.11","userIdentity":{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"},"eventTime":""#);
        push_time(o, t);
        o.push_str(r#"","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"cloudtrail.amazonaws.com","userAgent":"cloudtrail.amazonaws.com","requestParameters":{"#);
        self.push_bucket_key(o, &b);
        o.push_str(r#","x-amz-acl":"bucket-owner-full-control","x-amz-server-side-encryption":"AES256"},"responseElements":{"x-amz-server-side-encryption":"AES256"}"#);
        let bytes_in = self.rng.range(900, 3 << 20);
        self.push_additional(o, true, false, bytes_in, Some("SSE_S3"), 0);
        self.push_ids(o, true, false);
        self.push_object_resources(o, &b, true);
        self.push_tail(o, false, a.id, true, None, "Data", Tls::S3(&b), false);
    }

    /// A denied S3 write, from one of the stream's recurring patterns.
    fn denied_write(&mut self, o: &mut String, t: i64) {
        let d = &DENIES[self.rng.weighted(&self.st.denies)];
        let b = bucket_named(d.bucket);
        let op = self.rng.weighted(d.ops);
        let (who, view) = match d.who {
            DenyWho::Caller(p) => (self.who(p, t), View::Full),
            DenyWho::OwnerCopy(p) => (self.who(p, t), View::Owner),
            DenyWho::Anonymous => (Who::Anonymous, View::Full),
        };
        let msg = if matches!(who, Who::Anonymous) { Msg::Plain } else { self.rng.weighted(d.msgs) };
        let presigned = msg == Msg::Expired || (d.headers & H_PRESIGNED != 0 && self.rng.chance(0.2));
        let prefix = self.rng.pick(d.prefixes);
        self.make_key(prefix, t);
        if matches!(msg, Msg::KmsNoIdentity | Msg::KmsNoResource) {
            // S3's forward-access-session call to KMS fails first and is logged on its own.
            self.kms_denied(o, t, who, b, msg, op);
            o.push(',');
            self.rec += 1;
        }
        self.push_head(o, "1.11", who, view, t, "s3.amazonaws.com", op.name(), b.region);
        let vpce = self.push_source(o, who, view);
        o.push_str(r#","errorCode":"AccessDenied","errorMessage":""#);
        self.push_deny_msg(o, msg, who, b, op);
        o.push_str(r#"","requestParameters":{"#);
        self.push_bucket_key(o, b);
        match op {
            Op::CreateMpu => o.push_str(r#","uploads":"""#),
            Op::UploadPart | Op::CompleteMpu => {
                if matches!(op, Op::UploadPart) {
                    let _ = write!(o, r#","partNumber":"{}""#, self.rng.range(1, 60));
                }
                o.push_str(r#","uploadId":""#);
                push_bits(o, &mut self.rng, URLSAFE, 64);
                o.push('"');
            }
            Op::Copy => {
                let _ = write!(o, r#","x-amz-copy-source":"{}/exports/daily/"#, b.name);
                push_bits(o, &mut self.rng, HEX, 10);
                o.push_str(".csv\"");
            }
            Op::Put => {}
        }
        let first_write = matches!(op, Op::Put | Op::CreateMpu | Op::Copy);
        if first_write {
            if matches!(msg, Msg::KmsNoIdentity | Msg::KmsNoResource) || (b.kms_key.is_some() && self.rng.chance(0.3)) {
                o.push_str(r#","x-amz-server-side-encryption":"aws:kms""#);
                if self.rng.chance(0.6) {
                    o.push_str(r#","x-amz-server-side-encryption-aws-kms-key-id":""#);
                    self.push_kms_arn(o, b);
                    o.push('"');
                }
            }
            if msg == Msg::SseC {
                o.push_str(r#","x-amz-server-side-encryption-customer-algorithm":"AES256","x-amz-server-side-encryption-customer-key-MD5":""#);
                push_bits(o, &mut self.rng, B64, 22);
                o.push_str("==\"");
            }
            if msg == Msg::BlockPublicAcls {
                o.push_str(if self.rng.chance(0.7) {
                    r#","x-amz-acl":"public-read""#
                } else {
                    r#","x-amz-grant-read":"uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"""#
                });
            } else if d.headers & H_ACL_BOFC != 0 && self.rng.chance(0.5) {
                o.push_str(r#","x-amz-acl":"bucket-owner-full-control""#);
            }
            if d.headers & H_EXPECTED_OWNER != 0 && self.rng.chance(0.4) {
                let wrong = if self.rng.chance(0.5) { ACCOUNTS[2].id } else { ACCOUNTS[b.acct].id };
                let _ = write!(o, r#","x-amz-expected-bucket-owner":"{wrong}""#);
            }
            if d.headers & H_LOCK != 0 && self.rng.chance(0.3) {
                o.push_str(r#","x-amz-object-lock-mode":"GOVERNANCE","x-amz-object-lock-retain-until-date":""#);
                push_time(o, t + 86_400 * 30);
                o.push('"');
            }
            if d.headers & H_STORAGE != 0 && self.rng.chance(0.5) {
                o.push_str(r#","x-amz-storage-class":"STANDARD_IA""#);
            }
        }
        if presigned {
            o.push_str(r#","X-Amz-Algorithm":"AWS4-HMAC-SHA256","X-Amz-Expires":"900","X-Amz-SignedHeaders":"host""#);
        }
        o.push_str(r#"},"responseElements":null"#);
        let anon = matches!(who, Who::Anonymous);
        let bytes_in = match op {
            Op::Put | Op::UploadPart if self.rng.chance(0.6) => self.rng.range(100, 5 << 20),
            _ => 0,
        };
        self.push_additional(o, !anon, presigned, bytes_in, None, 243);
        self.push_ids(o, true, false);
        let recipient = ACCOUNTS[self.st.acct].id;
        let cross = match who {
            Who::P { p, .. } => PRINCIPALS[p].acct != b.acct,
            Who::Anonymous => false,
        };
        let owner_known = view == View::Owner || !cross || self.rng.chance(0.5);
        self.push_object_resources(o, b, owner_known);
        let console = matches!(who, Who::P { console: true, .. }) && view == View::Full;
        let vpce = if cross { None } else { vpce };
        self.push_tail(o, false, recipient, cross, vpce, "Data", Tls::S3(b), console);
    }

    /// errorMessage text (already inside the quotes).
    fn push_deny_msg(&mut self, o: &mut String, msg: Msg, who: Who, b: &Bucket, op: Op) {
        let Who::P { p, s, .. } = who else {
            o.push_str("Access Denied");
            return;
        };
        match msg {
            Msg::Plain => o.push_str("Access Denied"),
            Msg::Expired => o.push_str("Request has expired"),
            Msg::KmsNoIdentity | Msg::KmsNoResource => {
                let action = if matches!(op, Op::UploadPart) { "kms:Decrypt" } else { "kms:GenerateDataKey" };
                o.push_str("User: ");
                self.push_arn(o, p, s);
                let _ = write!(o, " is not authorized to perform: {action} on resource: ");
                self.push_kms_arn(o, b);
                let policy = if msg == Msg::KmsNoIdentity { "identity-based policy" } else { "resource-based policy" };
                let _ = write!(o, " because no {policy} allows the {action} action");
            }
            _ => {
                o.push_str("User: ");
                self.push_arn(o, p, s);
                o.push_str(" is not authorized to perform: s3:PutObject");
                if self.rng.chance(0.9) {
                    let _ = write!(o, r#" on resource: \"arn:aws:s3:::{}/"#, b.name);
                    push_esc(o, &self.key);
                    o.push_str("\\\"");
                }
                o.push(' ');
                o.push_str(match msg {
                    Msg::NoIdentity => "because no identity-based policy allows the s3:PutObject action",
                    Msg::ExplicitIdentity => "with an explicit deny in an identity-based policy",
                    Msg::ExplicitResource => "with an explicit deny in a resource-based policy",
                    Msg::NoResource => "because no resource-based policy allows the s3:PutObject action",
                    Msg::ExplicitScp => "with an explicit deny in a service control policy",
                    Msg::ExplicitRcp => "with an explicit deny in a resource control policy",
                    Msg::NoVpce => "because no VPC endpoint policy allows the s3:PutObject action",
                    Msg::ExplicitBoundary => "with an explicit deny in a permissions boundary",
                    Msg::NoBoundary => "because no permissions boundary allows the s3:PutObject action",
                    Msg::ExplicitSession => "with an explicit deny in a session policy",
                    Msg::NoSession => "because no session policy allows the s3:PutObject action",
                    Msg::BlockPublicAcls => "because public ACLs are prevented by the BlockPublicAcls setting in S3 Block Public Access.",
                    _ => "because this bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). Please specify a different server-side encryption type",
                });
                if msg == Msg::ExplicitScp && self.rng.chance(0.5) {
                    o.push_str(": ");
                    o.push_str(ORG_SCP_ARN);
                }
            }
        }
    }

    // ----- management events

    fn kms(&mut self, o: &mut String, t: i64, decrypt: bool) {
        let name = if decrypt { "Decrypt" } else { "GenerateDataKey" };
        let who = self.pick_who(Pool::Kms, t);
        let b = self.pick_bucket();
        let via_s3 = self.rng.chance(0.75);
        let view = if via_s3 {
            View::Via(if self.rng.chance(0.3) { "fas.s3.amazonaws.com" } else { "s3.amazonaws.com" })
        } else {
            View::Full
        };
        let region = self.st.region;
        self.push_head(o, "1.11", who, view, t, "kms.amazonaws.com", name, region);
        let vpce = self.push_source(o, who, view);
        let throttled = !via_s3 && self.rng.chance(0.05);
        if throttled {
            o.push_str(r#","errorCode":"ThrottlingException","errorMessage":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.""#);
        }
        o.push_str(r#","requestParameters":{"#);
        if !decrypt {
            o.push_str(r#""keyId":""#);
            self.push_kms_arn(o, b);
            o.push_str(r#"","#);
        }
        o.push_str(r#""encryptionContext":{"#);
        if via_s3 {
            let _ = write!(o, r#""aws:s3:arn":"arn:aws:s3:::{}"#, b.name);
            if self.rng.chance(0.5) {
                let prefix = self.rng.pick(b.prefixes);
                self.make_key(prefix, t);
                o.push('/');
                push_esc(o, &self.key);
            }
            o.push('"');
        } else {
            let _ = write!(
                o,
                r#""aws:lambda:FunctionArn":"arn:aws:lambda:{region}:{}:function:"#,
                ACCOUNTS[self.st.acct].id
            );
            o.push_str(self.rng.pick(&["media-thumbnailer", "order-webhook", "report-builder"]));
            o.push('"');
        }
        o.push('}');
        o.push_str(if decrypt { r#","encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"# } else { r#","keySpec":"AES_256"}"# });
        o.push_str(r#","responseElements":null"#);
        self.push_ids(o, false, true);
        let acct = ACCOUNTS[self.st.acct].id;
        o.push_str(r#","resources":[{"accountId":""#);
        o.push_str(acct);
        o.push_str(r#"","type":"AWS::KMS::Key","ARN":""#);
        self.push_kms_arn(o, b);
        o.push_str("\"}]");
        let tls = if via_s3 { Tls::None } else { Tls::Regional("kms") };
        self.push_tail(o, true, acct, false, if via_s3 { None } else { vpce }, "Management", tls, false);
    }

    /// The KMS call S3 makes for a denied SSE-KMS write, denied itself (same message as the S3 record).
    fn kms_denied(&mut self, o: &mut String, t: i64, who: Who, b: &Bucket, msg: Msg, op: Op) {
        let decrypt = matches!(op, Op::UploadPart);
        let svc = if self.rng.chance(0.5) { "fas.s3.amazonaws.com" } else { "s3.amazonaws.com" };
        let name = if decrypt { "Decrypt" } else { "GenerateDataKey" };
        self.push_head(o, "1.11", who, View::Via(svc), t, "kms.amazonaws.com", name, b.region);
        self.push_source(o, who, View::Via(svc));
        o.push_str(r#","errorCode":"AccessDenied","errorMessage":""#);
        self.push_deny_msg(o, msg, who, b, op);
        o.push_str(r#"","requestParameters":{"#);
        if !decrypt {
            o.push_str(r#""keyId":""#);
            self.push_kms_arn(o, b);
            o.push_str(r#"","#);
        }
        let _ = write!(o, r#""encryptionContext":{{"aws:s3:arn":"arn:aws:s3:::{}/"#, b.name);
        push_esc(o, &self.key);
        o.push_str(if decrypt {
            r#""},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#
        } else {
            r#""},"keySpec":"AES_256"}"#
        });
        o.push_str(r#","responseElements":null"#);
        self.push_ids(o, false, true);
        let acct = ACCOUNTS[b.acct].id;
        o.push_str(r#","resources":[{"accountId":""#);
        o.push_str(acct);
        o.push_str(r#"","type":"AWS::KMS::Key","ARN":""#);
        self.push_kms_arn(o, b);
        o.push_str("\"}]");
        self.push_tail(o, true, ACCOUNTS[self.st.acct].id, false, None, "Management", Tls::None, false);
    }

    /// A bucket policy or public-access-block change (companion events for the analyzer).
    fn policy_change(&mut self, o: &mut String, t: i64) {
        let who = self.pick_who(Pool::Mgmt, t);
        let b = self.pick_bucket();
        let policy = self.rng.chance(0.6);
        let name = if policy { "PutBucketPolicy" } else { "PutBucketPublicAccessBlock" };
        self.push_head(o, "1.11", who, View::Full, t, "s3.amazonaws.com", name, b.region);
        let vpce = self.push_source(o, who, View::Full);
        let bn = b.name;
        if policy {
            let _ = write!(
                o,
                r#","requestParameters":{{"bucketPolicy":{{"Version":"2012-10-17","Statement":[{{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{bn}","arn:aws:s3:::{bn}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},{{"Sid":"DenyUnencryptedUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{bn}/*","Condition":{{"Null":{{"s3:x-amz-server-side-encryption":"true"}}}}}}]}},"bucketName":"{bn}","Host":""#
            );
            push_host(o, b);
            o.push_str(r#"","policy":""}"#);
        } else {
            let _ = write!(
                o,
                r#","requestParameters":{{"PublicAccessBlockConfiguration":{{"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","RestrictPublicBuckets":true,"BlockPublicPolicy":true,"BlockPublicAcls":true,"IgnorePublicAcls":true}},"bucketName":"{bn}","Host":""#
            );
            push_host(o, b);
            o.push_str(r#"","publicAccessBlock":""}"#);
        }
        o.push_str(r#","responseElements":null"#);
        let bytes_in = if policy { 612 } else { 252 };
        self.push_additional(o, true, false, bytes_in, None, 0);
        self.push_ids(o, true, false);
        let _ = write!(
            o,
            r#","resources":[{{"accountId":"{}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{bn}"}}]"#,
            ACCOUNTS[b.acct].id
        );
        let acct = ACCOUNTS[self.st.acct].id;
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, true, acct, false, vpce, "Management", Tls::S3(b), console);
    }

    /// STS AssumeRole by the service that runs role `p`, creating session `s`.
    fn assume_role(&mut self, o: &mut String, p: usize, s: i64, t: i64) {
        let pr = &PRINCIPALS[p];
        let acct = ACCOUNTS[pr.acct].id;
        let svc = pr.assumed_by;
        let _ = write!(
            o,
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AWSService","invokedBy":"{svc}"}},"eventTime":""#
        );
        push_time(o, t);
        let _ = write!(
            o,
            r#"","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"{}","sourceIPAddress":"{svc}","userAgent":"{svc}","requestParameters":{{"roleArn":"arn:aws:iam::{acct}:role/{}{}","roleSessionName":""#,
            self.st.region, pr.path, pr.name
        );
        self.push_session_name(o, p, s);
        o.push_str(r#"","durationSeconds":3600},"responseElements":{"credentials":{"accessKeyId":""#);
        let who = Who::P { p, s, created: t, console: false };
        self.push_key_id(o, who);
        o.push_str(r#"","sessionToken":"IQoJb3JpZ2luX2Vj"#);
        let n = self.rng.range(380, 640) as usize;
        push_bits(o, &mut self.rng, B64, n);
        o.push_str(r#"","expiration":""#);
        push_sts_time(o, t + 3600);
        let _ = write!(o, r#""}},"assumedRoleUser":{{"assumedRoleId":"{}:"#, pr.id);
        self.push_session_name(o, p, s);
        o.push_str(r#"","arn":""#);
        self.push_arn(o, p, s);
        o.push_str(r#""}}"#);
        self.push_ids(o, false, true);
        let _ = write!(
            o,
            r#","resources":[{{"accountId":"{acct}","type":"AWS::IAM::Role","ARN":"arn:aws:iam::{acct}:role/{}{}"}}]"#,
            pr.path, pr.name
        );
        self.push_tail(o, true, acct, true, None, "Management", Tls::None, false);
    }

    fn caller_identity(&mut self, o: &mut String, t: i64) {
        let who = self.pick_who(Pool::Mgmt, t);
        self.push_head(o, "1.08", who, View::Full, t, "sts.amazonaws.com", "GetCallerIdentity", self.st.region);
        let vpce = self.push_source(o, who, View::Full);
        o.push_str(r#","requestParameters":null,"responseElements":null"#);
        self.push_ids(o, false, true);
        let acct = ACCOUNTS[self.st.acct].id;
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, true, acct, false, vpce, "Management", Tls::Regional("sts"), console);
    }

    fn ec2(&mut self, o: &mut String, t: i64) {
        const CALLS: &[(&str, &str)] = &[
            (
                "DescribeInstances",
                r#"{"instancesSet":{},"filterSet":{"items":[{"name":"instance-state-name","valueSet":{"items":[{"value":"running"}]}}]}}"#,
            ),
            ("DescribeVolumes", r#"{"volumeSet":{},"filterSet":{}}"#),
            ("DescribeSecurityGroups", r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#),
            ("DescribeSubnets", r#"{"subnetSet":{},"filterSet":{}}"#),
            ("DescribeNetworkInterfaces", r#"{"networkInterfaceIdSet":{},"filterSet":{}}"#),
            ("DescribeInstanceStatus", r#"{"instancesSet":{},"filterSet":{},"includeAllInstances":false}"#),
            ("DescribeRouteTables", r#"{"routeTableIdSet":{},"filterSet":{}}"#),
            ("DescribeVpcs", r#"{"vpcSet":{},"filterSet":{}}"#),
        ];
        let who = self.pick_who(Pool::Mgmt, t);
        let (name, params) = self.rng.pick(CALLS);
        self.push_head(o, "1.10", who, View::Full, t, "ec2.amazonaws.com", name, self.st.region);
        let vpce = self.push_source(o, who, View::Full);
        if self.rng.chance(0.01) {
            o.push_str(r#","errorCode":"Client.RequestLimitExceeded","errorMessage":"Request limit exceeded.""#);
        }
        let _ = write!(o, r#","requestParameters":{params},"responseElements":null"#);
        self.push_ids(o, false, true);
        let acct = ACCOUNTS[self.st.acct].id;
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, true, acct, false, vpce, "Management", Tls::Regional("ec2"), console);
    }

    fn iam(&mut self, o: &mut String, t: i64) {
        let who = self.pick_who(Pool::Mgmt, t);
        let acct = ACCOUNTS[self.st.acct].id;
        let name = self.rng.pick(&[
            "GetRole",
            "GetUser",
            "GetPolicy",
            "GetRolePolicy",
            "ListAttachedRolePolicies",
            "GetPolicyVersion",
        ]);
        self.push_head(o, "1.09", who, View::Full, t, "iam.amazonaws.com", name, "us-east-1");
        let vpce = self.push_source(o, who, View::Full);
        if self.rng.chance(0.02) {
            o.push_str(r#","errorCode":"ThrottlingException","errorMessage":"Rate exceeded""#);
        }
        let role = PRINCIPALS[self.rng.weighted(&self.st.s3r)].name;
        let _ = match name {
            "GetRole" | "ListAttachedRolePolicies" => write!(o, r#","requestParameters":{{"roleName":"{role}"}}"#),
            "GetRolePolicy" => write!(o, r#","requestParameters":{{"roleName":"{role}","policyName":"s3-access"}}"#),
            "GetUser" => write!(o, r#","requestParameters":{{"userName":"ci-deploy"}}"#),
            "GetPolicy" => write!(o, r#","requestParameters":{{"policyArn":"arn:aws:iam::{acct}:policy/s3-writers"}}"#),
            _ => write!(
                o,
                r#","requestParameters":{{"policyArn":"arn:aws:iam::{acct}:policy/s3-writers","versionId":"v{}"}}"#,
                self.rng.range(1, 9)
            ),
        };
        o.push_str(r#","responseElements":null"#);
        self.push_ids(o, false, true);
        let console = matches!(who, Who::P { console: true, .. });
        self.push_tail(o, true, acct, false, vpce, "Management", Tls::Host("iam.amazonaws.com"), console);
    }
}

fn push_host(o: &mut String, b: &Bucket) {
    let _ = write!(o, "{}.s3.{}.amazonaws.com", b.name, b.region);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::Read as _;
    use std::path::Path;

    const WRITES: &[&str] = &[
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "CopyObject",
        "UploadPartCopy",
    ];

    fn opts(dir: &Path, bytes: u64) -> SynthOptions {
        let mut o = SynthOptions::new(dir.to_path_buf(), bytes);
        o.min_file_bytes = 16 << 10;
        o.max_file_bytes = 256 << 10;
        o.denied_ratio = 0.05;
        o
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() { stack.push(p) } else { out.push(p) }
            }
        }
        out.sort();
        out
    }

    fn read_gz(p: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(fs::File::open(p).unwrap()).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn trail_is_valid_and_counts_match() {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(dir.path(), 2 << 20);
        let sum = generate(&o).unwrap();
        let paths = files(dir.path());
        assert_eq!(sum.files, paths.len() as u64);
        assert!(sum.files >= 8, "{sum:?}");
        assert!(sum.bytes_decompressed >= o.target_bytes);
        let (mut records, mut denied, mut comp, mut decomp) = (0, 0, 0, 0);
        let mut ids = HashSet::new();
        let mut kinds = HashSet::new();
        for p in &paths {
            comp += fs::metadata(p).unwrap().len();
            let raw = read_gz(p);
            decomp += raw.len() as u64;
            assert!(!raw.contains(&b'\n'), "single line");
            let doc: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            let recs = doc["Records"].as_array().unwrap();
            assert!(!recs.is_empty());
            for r in recs {
                records += 1;
                let text = serde_json::to_string(r).unwrap();
                let code = r["errorCode"].as_str();
                if text.contains("AccessDenied") {
                    assert_eq!(code, Some("AccessDenied"), "{text}");
                }
                let name = r["eventName"].as_str().unwrap();
                let source = r["eventSource"].as_str().unwrap();
                if code == Some("AccessDenied") && source == "s3.amazonaws.com" && WRITES.contains(&name) {
                    denied += 1;
                }
                kinds.insert(format!("{source} {name} {}", code.unwrap_or("")));
                assert!(ids.insert(r["eventID"].as_str().unwrap().to_string()), "duplicate eventID");
                assert!(r["eventVersion"].as_str().unwrap().starts_with("1."));
                assert!(r["userIdentity"]["type"].is_string());
                assert!(r["recipientAccountId"].is_string());
                assert!(r["requestID"].is_string());
                let len = text.len();
                assert!((500..4000).contains(&len), "record of {len} bytes: {text}");
            }
        }
        assert_eq!(records, sum.records);
        assert_eq!(denied, sum.denied_writes);
        assert_eq!(comp, sum.bytes_compressed);
        assert_eq!(decomp, sum.bytes_decompressed);
        let share = denied as f64 / records as f64;
        assert!((0.03..0.07).contains(&share), "denied share {share}");
        for k in [
            "s3.amazonaws.com GetObject ",
            "s3.amazonaws.com PutObject AccessDenied",
            "s3.amazonaws.com GetObject NoSuchKey",
            "s3.amazonaws.com GetObject AccessDenied",
            "kms.amazonaws.com Decrypt ",
            "sts.amazonaws.com AssumeRole ",
            "iam.amazonaws.com GetRole ",
            "s3.amazonaws.com UploadPart AccessDenied",
            "kms.amazonaws.com GenerateDataKey AccessDenied",
        ] {
            assert!(kinds.contains(k), "missing {k}: {kinds:?}");
        }
    }

    #[test]
    fn deterministic_and_thread_independent() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut oa = opts(a.path(), 1 << 20);
        oa.threads = 1;
        let mut ob = opts(b.path(), 1 << 20);
        ob.threads = 2;
        assert_eq!(generate(&oa).unwrap(), generate(&ob).unwrap());
        let (fa, fb) = (files(a.path()), files(b.path()));
        assert_eq!(fa.len(), fb.len());
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(x.strip_prefix(a.path()).unwrap(), y.strip_prefix(b.path()).unwrap());
            assert_eq!(fs::read(x).unwrap(), fs::read(y).unwrap());
        }
        let c = tempfile::tempdir().unwrap();
        let mut oc = opts(c.path(), 1 << 20);
        oc.seed = 7;
        generate(&oc).unwrap();
        assert_ne!(fs::read(&files(c.path())[0]).unwrap(), fs::read(&fa[0]).unwrap());
    }

    #[test]
    fn layout_and_delivery_times() {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(dir.path(), 1 << 20);
        generate(&o).unwrap();
        let mut streams = HashSet::new();
        for p in files(dir.path()) {
            let rel: Vec<String> =
                p.strip_prefix(dir.path()).unwrap().iter().map(|c| c.to_string_lossy().into_owned()).collect();
            assert_eq!(rel.len(), 8, "{rel:?}");
            let (acct, region, y, m, d, name) = (&rel[1], &rel[3], &rel[4], &rel[5], &rel[6], &rel[7]);
            assert_eq!(rel[0], "AWSLogs");
            assert_eq!(rel[2], "CloudTrail");
            assert!(acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()));
            let prefix = format!("{acct}_CloudTrail_{region}_{y}{m}{d}T");
            assert!(name.starts_with(&prefix), "{name}");
            let rest = &name[prefix.len()..];
            assert_eq!(rest.len(), "HHmmZ_".len() + 16 + ".json.gz".len(), "{name}");
            assert!(rest.ends_with(".json.gz") && &rest[4..6] == "Z_");
            assert!(rest[6..22].bytes().all(|b| b.is_ascii_alphanumeric()));
            let stamp = format!("{y}-{m}-{d}T{}:{}:00Z", &rest[0..2], &rest[2..4]);
            let delivery = chrono::DateTime::parse_from_rfc3339(&stamp).unwrap().timestamp();
            assert!(delivery >= o.start);
            streams.insert((acct.clone(), region.clone()));
            let doc: serde_json::Value = serde_json::from_slice(&read_gz(&p)).unwrap();
            for r in doc["Records"].as_array().unwrap() {
                let t = chrono::DateTime::parse_from_rfc3339(r["eventTime"].as_str().unwrap()).unwrap().timestamp();
                assert!(t < delivery && t >= delivery - WINDOW, "{t} vs {delivery} in {name}");
                assert_eq!(r["recipientAccountId"].as_str(), Some(acct.as_str()));
            }
        }
        assert!(streams.len() >= 5, "{streams:?}");
    }

    fn delivery_of(p: &Path) -> i64 {
        let name = p.file_name().unwrap().to_str().unwrap();
        let stamp = name.split('_').nth(3).unwrap();
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ").unwrap().and_utc().timestamp()
    }

    fn ts(v: &serde_json::Value) -> i64 {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp()
    }

    /// Every role session created while the trail runs has its AssumeRole event, with the same ASIA key.
    #[test]
    fn assumed_role_keys_trace_back() {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(dir.path(), 4 << 20);
        generate(&o).unwrap();
        let paths = files(dir.path());
        // Last delivery per account/region: sessions created after it are not issued yet.
        let mut last = std::collections::HashMap::new();
        for p in &paths {
            let parts: Vec<&str> = p.file_name().unwrap().to_str().unwrap().split('_').collect();
            let e = last.entry((parts[0].to_string(), parts[2].to_string())).or_insert(i64::MIN);
            *e = (*e).max(delivery_of(p));
        }
        let roles: Vec<&str> = PRINCIPALS.iter().filter(|p| !p.assumed_by.is_empty()).map(|p| p.name).collect();
        let (mut issued, mut used) = (HashSet::new(), HashSet::new());
        for p in &paths {
            let doc: serde_json::Value = serde_json::from_slice(&read_gz(p)).unwrap();
            for r in doc["Records"].as_array().unwrap() {
                let uid = &r["userIdentity"];
                if r["eventName"] == "AssumeRole" {
                    let key = r["responseElements"]["credentials"]["accessKeyId"].as_str().unwrap();
                    issued.insert((key.to_string(), ts(&r["eventTime"])));
                } else if uid["type"] == "AssumedRole"
                    && roles.contains(&uid["sessionContext"]["sessionIssuer"]["userName"].as_str().unwrap())
                {
                    let created = ts(&uid["sessionContext"]["attributes"]["creationDate"]);
                    let stream = (
                        r["recipientAccountId"].as_str().unwrap().to_string(),
                        r["awsRegion"].as_str().unwrap().to_string(),
                    );
                    if created >= o.start - 360 && created < last[&stream] - 60 {
                        used.insert((uid["accessKeyId"].as_str().unwrap().to_string(), created));
                    }
                }
            }
        }
        assert!(used.len() > 20, "{}", used.len());
        let missing: Vec<_> = used.difference(&issued).collect();
        assert!(missing.is_empty(), "{} of {} sessions untraced: {missing:?}", missing.len(), used.len());
    }

    #[test]
    fn text_helpers() {
        for t in [0i64, 951_782_400, 1_793_491_200, 1_793_577_599, 4_102_444_800, -86_400] {
            let mut s = String::new();
            push_time(&mut s, t);
            let want = chrono::DateTime::from_timestamp(t, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(s, want);
        }
        let mut s = String::new();
        push_sts_time(&mut s, 1_793_491_200 + 3600 + 5 * 60 + 9);
        assert_eq!(s, "Nov 1, 2026, 1:05:09 AM");
        let mut s = String::new();
        push_esc(&mut s, "a\"b\\c\td\u{1}é");
        assert_eq!(serde_json::from_str::<String>(&format!("\"{s}\"")).unwrap(), "a\"b\\c\td\u{1}é");
        assert_eq!(
            SynthOptions::new(PathBuf::new(), 0).start,
            chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().timestamp()
        );
    }

    #[test]
    fn zero_target_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(generate(&opts(dir.path(), 0)).unwrap(), SynthSummary::default());
    }
}
