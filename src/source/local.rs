//! Local files and directories (walked recursively, pruned by the CloudTrail layout).

use std::path::Path;

use walkdir::WalkDir;

use super::{Listed, Location, LogObject};
use crate::layout::{self, Scope};
use crate::stats::{ObjectError, SkipReason};

fn segments(path: &Path) -> Vec<&str> {
    path.components().filter_map(|c| c.as_os_str().to_str()).collect()
}

/// Walks `root` (a file or a directory), handing each file to `emit` as it is found, so reading
/// starts at once and memory does not grow with the number of files.
pub fn walk(root: &Path, scope: &Scope, emit: &mut dyn FnMut(Listed)) {
    let name = |p: &Path| p.display().to_string();
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) => {
            emit(Listed::Failed(name(root), ObjectError::Open(e.to_string())));
            return;
        }
    };
    if !meta.is_dir() {
        // A file named by the user is read even outside the layout scope: they asked for it.
        // So is a FIFO or a device they name (`denytrail scan <(zcat …)` passes /dev/fd/63).
        match layout::skip_by_name(&segments(root)) {
            Some(reason) => emit(Listed::Skipped(name(root), reason)),
            None => emit(Listed::Object(LogObject {
                name: name(root),
                location: Location::File(root.to_path_buf()),
                walked: false,
                size: if meta.is_file() { meta.len() } else { 0 },
            })),
        }
        return;
    }
    // Symbolic links are followed (a trail copy is often a tree of links); walkdir notices a
    // link back to an ancestor, which is skipped, not walked forever.
    let walk = WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter().filter_entry(|e| {
        // Prune whole folders outside --account/--region/--since/--until; they are not listed
        // one by one (a bucket copy may hold millions of files).
        scope.is_unbounded()
            || !e.file_type().is_dir()
            || layout::parse(&segments(e.path()))
                .is_none_or(|l| l.kind.is_some_and(|k| k != "CloudTrail") || scope.admits(&l))
    });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map_or_else(|| name(root), name);
                if e.loop_ancestor().is_some() {
                    emit(Listed::Skipped(path, SkipReason::SymlinkLoop));
                    continue;
                }
                let reason = e.io_error().map_or(e.to_string(), |io| io.to_string());
                emit(Listed::Failed(path, ObjectError::Walk(reason)));
                continue;
            }
        };
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            emit(Listed::Skipped(name(entry.path()), SkipReason::NotARegularFile));
            continue;
        }
        let path = entry.path();
        let segs = segments(path);
        if let Some(reason) = layout::skip_by_name(&segs) {
            emit(Listed::Skipped(name(path), reason));
            continue;
        }
        if !scope.is_unbounded() && layout::parse(&segs).is_some_and(|l| l.day.is_some() && !scope.admits(&l)) {
            emit(Listed::Skipped(name(path), SkipReason::OutOfScope));
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        emit(Listed::Object(LogObject {
            name: name(path),
            location: Location::File(path.to_path_buf()),
            walked: true,
            size,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use denytrail_core::filter::Names;

    /// What a walk emitted, sorted into objects, skips and failures.
    #[derive(Default)]
    struct Listing {
        objects: Vec<LogObject>,
        skipped: Vec<(String, SkipReason)>,
        failed: Vec<(String, ObjectError)>,
    }

    fn listing(root: &Path, scope: &Scope) -> Listing {
        let mut l = Listing::default();
        walk(root, scope, &mut |item| match item {
            Listed::Object(o) => l.objects.push(o),
            Listed::Skipped(n, r) => l.skipped.push((n, r)),
            Listed::Failed(n, e) => l.failed.push((n, e)),
        });
        l
    }

    #[test]
    fn walk_skips_digests_and_prunes_scope() {
        let dir = tempfile::tempdir().unwrap();
        let put = |p: &str| {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"{}").unwrap();
        };
        put("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/a.json.gz");
        put("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/22/b.json.gz");
        put("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/c.json.gz");
        put("AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/20/d.json.gz");
        put("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/e.json.gz");
        put("README.txt");

        let all = listing(dir.path(), &Scope::default());
        assert_eq!(all.objects.len(), 5);
        assert_eq!(all.skipped.len(), 1);
        assert_eq!(all.skipped[0].1, SkipReason::Digest);

        let scope = Scope {
            accounts: Some(Names::from_iter(["111122223333".into()])),
            regions: Some(Names::from_iter(["us-east-1".into()])),
            from_day: NaiveDate::from_ymd_opt(2026, 11, 21),
            to_day: None,
        };
        let some = listing(dir.path(), &scope);
        let names: Vec<_> = some.objects.iter().map(|o| o.name.rsplit('/').next().unwrap().to_string()).collect();
        assert_eq!(names, ["b.json.gz", "README.txt"]);

        let missing = listing(&dir.path().join("nope"), &Scope::default());
        assert_eq!(missing.failed.len(), 1);
        assert!(matches!(missing.failed[0].1, ObjectError::Open(_)));
        assert!(missing.failed[0].1.to_string().starts_with("cannot open: "));
    }
}
