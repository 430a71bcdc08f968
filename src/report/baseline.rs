//! `--baseline`: what changed since a previous report, for the morning mail.
//!
//! A group is `new` when the baseline does not have it, `ongoing` when it does, and `resolved`
//! when the baseline had it and this run does not. New groups come first, then ongoing, then
//! resolved, each in report order. Groups a baseline already called resolved are history, not
//! part of it.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::{DataFrame, ParquetReader, PolarsResult, SerReader};

use super::Group;
use crate::event::GroupKey;

pub const NEW: &str = "new";
pub const ONGOING: &str = "ongoing";
pub const RESOLVED: &str = "resolved";

/// Reads the groups of a report written with `--format parquet`.
pub fn read(path: &Path) -> Result<Vec<Group>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot open the baseline {}", path.display()))?;
    parse(bytes, &path.display().to_string())
}

/// The groups of a Parquet report held in memory; `name` says where it came from.
///
/// polars' Parquet reader panics on some damaged files (an `expect` on a metadata field, a range
/// past the end of a page: found by `tests::a_damaged_baseline_is_an_error_not_a_panic`), so a
/// panic while reading is caught and reported as the error it is.
pub fn parse(bytes: Vec<u8>, name: &str) -> Result<Vec<Group>> {
    std::panic::catch_unwind(move || read_groups(bytes, name))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the baseline {name} is damaged: the Parquet reader failed on it")))
}

fn read_groups(bytes: Vec<u8>, name: &str) -> Result<Vec<Group>> {
    let mut reader = ParquetReader::new(std::io::Cursor::new(&bytes[..]));
    // Only the footer is decoded here; the column data is checked against the checksum the
    // report was written with before anything reads it (reports older than it go unchecked).
    let metadata = reader.get_metadata().with_context(|| format!("the baseline {name} is not a Parquet file"))?;
    let sum = metadata
        .key_value_metadata()
        .iter()
        .flatten()
        .find(|kv| kv.key == super::write::CHECKSUM_KEY)
        .and_then(|kv| kv.value.clone());
    if let Some(sum) = sum
        && super::write::data_of(&bytes).map(super::write::sha256_hex).as_deref() != Some(sum.as_str())
    {
        anyhow::bail!("the baseline {name} is damaged: its data does not match the checksum it was written with");
    }
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .with_context(|| format!("the baseline {name} is not a Parquet file"))?;
    from_frame(&df)
        .with_context(|| format!("the baseline {name} is not a denytrail report (write one with --format parquet)"))
}

/// Columns added after reports were first written: a baseline may lack them.
const OPTIONAL: [&str; 2] = ["facts", "confirmed_by"];

fn from_frame(df: &DataFrame) -> PolarsResult<Vec<Group>> {
    // A baseline is a whole report: every contract column must be there, but for `facts` and
    // `confirmed_by`, which reports written before they existed lack (they then read as empty).
    for name in super::column_names().filter(|n| !OPTIONAL.contains(n)) {
        df.column(name)?;
    }
    super::rows_from_frame(df)
}

/// Marks `current` against `baseline` and orders new → ongoing → resolved. Resolved groups keep
/// the baseline's row (its counts and times say what was seen then).
pub fn compare(current: Vec<Group>, baseline: Vec<Group>) -> Vec<Group> {
    let before: HashSet<GroupKey> = baseline.iter().filter(|g| g.status != RESOLVED).map(Group::key).collect();
    let now: HashSet<GroupKey> = current.iter().map(Group::key).collect();
    let resolved: Vec<Group> = baseline
        .iter()
        .filter(|g| g.status != RESOLVED && !now.contains(&g.key()))
        .map(|g| Group { status: RESOLVED.to_string(), ..g.clone() })
        .collect();
    let (mut new, mut ongoing) = (Vec::new(), Vec::new());
    for mut g in current {
        if before.contains(&g.key()) {
            g.status = ONGOING.to_string();
            ongoing.push(g);
        } else {
            g.status = NEW.to_string();
            new.push(g);
        }
    }
    new.extend(ongoing);
    new.extend(resolved);
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(principal: &str, denied: u64) -> Group {
        Group { principal: principal.into(), bucket: "b".into(), prefix: "p/".into(), denied, ..Group::default() }
    }

    #[test]
    fn new_first_then_ongoing_then_resolved() {
        let baseline = vec![g("a", 9), g("gone", 5), Group { status: RESOLVED.into(), ..g("old", 1) }];
        let current = vec![g("a", 7), g("fresh", 3)];
        let out = compare(current, baseline);
        let seen: Vec<(&str, &str, u64)> =
            out.iter().map(|g| (g.status.as_str(), g.principal.as_str(), g.denied)).collect();
        assert_eq!(seen, vec![("new", "fresh", 3), ("ongoing", "a", 7), ("resolved", "gone", 5)]);
    }

    #[test]
    fn a_report_round_trips_through_parquet() {
        let groups = vec![Group { status: NEW.into(), ..g("a", 2) }, g("b", 1)];
        let df = super::super::groups_to_frame(&groups).unwrap();
        let back = from_frame(&df).unwrap();
        assert_eq!(back, groups);
        let bare = super::super::groups_to_frame(&[g("c", 1)]).unwrap();
        assert_eq!(from_frame(&bare).unwrap()[0].status, "");
        let wrong = polars::prelude::df!("principal" => ["x"]).unwrap();
        assert!(from_frame(&wrong).is_err());
    }

    /// A baseline comes from a file or an S3 object that may be damaged: every truncation of a
    /// real report, and thousands of byte flips in it, read as an error or as groups, never as
    /// a panic (a property test; this crate is too heavy to fuzz instrumented, see README).
    #[test]
    fn a_damaged_baseline_is_an_error_not_a_panic() {
        let groups = vec![Group { status: NEW.into(), ..g("a", 2) }, g("b", 1)];
        let mut df = super::super::groups_to_frame(&groups).unwrap();
        let mut good = Vec::new();
        super::super::write::write_parquet(&mut df, &mut good).unwrap();
        assert!(
            good.windows(super::super::write::CHECKSUM_KEY.len())
                .any(|w| w == super::super::write::CHECKSUM_KEY.as_bytes())
        );
        assert_eq!(parse(good.clone(), "good").unwrap(), groups);
        // A flipped byte in the column data is caught by the checksum before decoding.
        let mut flipped = good.clone();
        let data = super::super::write::data_of(&good).unwrap().len();
        flipped[4 + data / 2] ^= 0x55;
        let err = parse(flipped, "flipped").unwrap_err().to_string();
        assert!(err.contains("does not match the checksum"), "{err}");
        let mut damaged: Vec<Vec<u8>> = (0..good.len()).step_by(7).map(|n| good[..n].to_vec()).collect();
        let mut seed = 0x0ba5_e11e_u64;
        for _ in 0..3_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = good.clone();
            let at = (seed % bytes.len() as u64) as usize;
            bytes[at] = (seed >> 32) as u8;
            damaged.push(bytes);
        }
        static FIRST: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            FIRST.lock().unwrap().get_or_insert_with(|| info.to_string());
        }));
        let panics: Vec<usize> = damaged
            .iter()
            .enumerate()
            .filter(|(_, bytes)| std::panic::catch_unwind(|| parse(bytes.to_vec(), "damaged")).is_err())
            .map(|(i, _)| i)
            .collect();
        std::panic::set_hook(hook);
        assert!(
            panics.is_empty(),
            "{} of {} damaged baselines panicked: {:?}; the first: {}",
            panics.len(),
            damaged.len(),
            &panics[..panics.len().min(10)],
            FIRST.lock().unwrap().as_deref().unwrap_or("")
        );
    }
}
