//! `--shard I/N`: which log objects one of N machines reads.
//!
//! An object belongs to the shard its name hashes to, so every object lands in exactly one
//! shard whatever order the listing returns, and the shards need no coordination. The name is
//! the one the summary shows: `s3://bucket/key`, or a local path as written (run local shards
//! from the same directory, with the same paths). The hash is FNV-1a (the `fnv` crate): stable
//! across versions, platforms and runs, unlike the standard library's.

use std::hash::Hasher;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based, as Kubernetes Indexed Jobs and AWS Batch array jobs number their tasks.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the number of shards must be at least 1".into());
        }
        if index >= count {
            return Err(format!("shard {index} does not exist among {count}: shards are numbered 0 to {}", count - 1));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N` (0-based I).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("'{s}' is not I/N, e.g. 0/4"))?;
        let num = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("'{s}' is not I/N, e.g. 0/4"));
        Shard::new(num(i)?, num(n)?)
    }

    /// Whether the object named `name` is this shard's.
    pub fn owns(&self, name: &str) -> bool {
        let mut h = fnv::FnvHasher::default();
        h.write(name.as_bytes());
        h.finish() % u64::from(self.count) == u64::from(self.index)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_refuse() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_name_has_exactly_one_shard_and_the_split_is_even() {
        let names: Vec<String> = (0..8000).map(|i| format!("s3://b/AWSLogs/1/CloudTrail/x/{i}.json.gz")).collect();
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for n in &names {
            let owners: Vec<u32> = shards.iter().filter(|s| s.owns(n)).map(|s| s.index).collect();
            assert_eq!(owners.len(), 1, "{n}: {owners:?}");
            sizes[owners[0] as usize] += 1;
        }
        assert!(sizes.iter().all(|&s| (1800..2200).contains(&s)), "{sizes:?}");
        // Stable in any process and version: FNV-1a's published test vectors.
        assert_eq!(fnv_of(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv_of("a"), 0xaf63_dc4c_8601_ec8c);
        assert!(Shard::new(0, 1).unwrap().owns("anything"));
    }

    fn fnv_of(s: &str) -> u64 {
        let mut h = fnv::FnvHasher::default();
        h.write(s.as_bytes());
        h.finish()
    }
}
