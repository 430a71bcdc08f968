//! The terminal table: the columns a person reads first, shortened to fit the width, never
//! wrapped. Everything else is in the other formats.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

use super::Group;
use super::escape::{display, shorten};

struct Col {
    name: &'static str,
    get: fn(&Group) -> String,
    /// Width the column is shortened to before optional columns are dropped.
    comfortable: usize,
    /// Narrowest width the column is ever shortened to.
    min: usize,
    numeric: bool,
}

/// Shortens the widest shown columns (widest above its floor first) until the table fits the
/// budget or every column is at its floor.
fn shrink(widths: &mut [usize], shown: &[usize], cols: &[Col], budget: usize, floor: impl Fn(&Col) -> usize) {
    loop {
        let cost: usize = shown.iter().map(|&i| widths[i] + 3).sum();
        if cost <= budget {
            return;
        }
        let excess = cost - budget;
        let Some(i) =
            shown.iter().copied().filter(|&i| widths[i] > floor(&cols[i])).max_by_key(|&i| widths[i] - floor(&cols[i]))
        else {
            return;
        };
        widths[i] -= excess.min(widths[i] - floor(&cols[i]));
    }
}

/// `2026-11-21T09:14:03Z` → `2026-11-21 09:14:03`.
fn t(s: &str) -> String {
    s.get(..19).unwrap_or(s).replace('T', " ")
}

fn columns() -> Vec<Col> {
    vec![
        Col { name: "principal", get: |g| g.principal.clone(), comfortable: 44, min: 24, numeric: false },
        Col { name: "bucket", get: |g| g.bucket.clone(), comfortable: usize::MAX, min: 12, numeric: false },
        Col { name: "prefix", get: |g| g.prefix.clone(), comfortable: usize::MAX, min: 8, numeric: false },
        Col { name: "denied", get: |g| g.denied.to_string(), comfortable: usize::MAX, min: 6, numeric: true },
        Col { name: "causes", get: |g| g.causes.clone(), comfortable: 36, min: 14, numeric: false },
        Col { name: "confidence", get: |g| g.confidence.clone(), comfortable: usize::MAX, min: 10, numeric: false },
        Col { name: "facts", get: |g| g.facts.clone(), comfortable: 24, min: 8, numeric: false },
        Col { name: "confirmed_by", get: |g| g.confirmed_by.clone(), comfortable: 40, min: 12, numeric: false },
        Col { name: "sessions", get: |g| g.sessions.to_string(), comfortable: usize::MAX, min: 8, numeric: true },
        Col { name: "keys", get: |g| g.keys.to_string(), comfortable: usize::MAX, min: 4, numeric: true },
        Col { name: "operations", get: |g| g.operations.clone(), comfortable: 24, min: 10, numeric: false },
        Col { name: "first_seen", get: |g| t(&g.first_seen), comfortable: usize::MAX, min: 19, numeric: false },
        Col { name: "last_seen", get: |g| t(&g.last_seen), comfortable: usize::MAX, min: 19, numeric: false },
        Col {
            name: "principal_type",
            get: |g| g.principal_type.clone(),
            comfortable: usize::MAX,
            min: 14,
            numeric: false,
        },
    ]
    .into_iter()
    .map(|mut c| {
        c.min = c.min.max(c.name.len());
        c
    })
    .collect()
}

/// Renders the table for a terminal `width` columns wide.
pub fn render(groups: &[Group], width: usize) -> String {
    // `confirmed_by` only when a configuration was read (`--live`, `--config`).
    let live = groups.iter().any(|g| !g.confirmed_by.is_empty());
    let cols: Vec<Col> = columns().into_iter().filter(|c| live || c.name != "confirmed_by").collect();
    let cells: Vec<Vec<String>> = groups.iter().map(|g| cols.iter().map(|c| display(&(c.get)(g))).collect()).collect();
    let natural: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| cells.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(c.name.len()))
        .collect();
    // Each column costs its width plus 3 (borders and padding) and the table one more.
    let budget = width.saturating_sub(1);
    let fits = |widths: &[usize], shown: &[usize]| shown.iter().map(|&i| widths[i] + 3).sum::<usize>() <= budget;
    let mut widths = natural.clone();
    let mut shown: Vec<usize> = (0..cols.len()).collect();
    // 1. Long free text (ARNs, cause lists, operations) gives way first, down to a comfortable width.
    shrink(&mut widths, &shown, &cols, budget, |c| c.comfortable);
    // 2. Then optional columns go, from the right; the first six always stay.
    while !fits(&widths, &shown) && shown.len() > 6 {
        shown.pop();
        widths.clone_from(&natural);
        shrink(&mut widths, &shown, &cols, budget, |c| c.comfortable);
    }
    // 3. Then everything shrinks towards its minimum, and on a very narrow terminal more columns go.
    shrink(&mut widths, &shown, &cols, budget, |c| c.min);
    while !fits(&widths, &shown) && shown.len() > 3 {
        shown.pop();
        shrink(&mut widths, &shown, &cols, budget, |c| c.min);
    }

    let mut table = Table::new();
    table.load_preset(presets::UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(shown.iter().map(|&i| Cell::new(cols[i].name)));
    for row in &cells {
        table.add_row(shown.iter().map(|&i| {
            let cell = Cell::new(shorten(&row[i], widths[i]));
            if cols[i].numeric { cell.set_alignment(CellAlignment::Right) } else { cell }
        }));
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(principal: &str, denied: u64) -> Group {
        Group {
            status: String::new(),
            principal: principal.into(),
            principal_type: "AssumedRole".into(),
            account: "111122223333".into(),
            bucket: "acme-artifacts".into(),
            bucket_owner: String::new(),
            prefix: "builds/".into(),
            denied,
            first_seen: "2026-11-21T09:00:00Z".into(),
            last_seen: "2026-11-21T11:00:00Z".into(),
            keys: 3,
            sessions: 12,
            source_ips: 1,
            operations: "CreateMultipartUpload,PutObject,UploadPart".into(),
            causes: "bucket-policy-deny (100%)".into(),
            confidence: "high".into(),
            facts: "temporary credentials".into(),
            confirmed_by: String::new(),
            evidence: String::new(),
            next_steps: String::new(),
            sample_event_id: String::new(),
            sample_key: String::new(),
            estimated: String::new(),
            detail: Default::default(),
        }
    }

    #[test]
    fn fits_every_width_and_never_wraps() {
        let groups = vec![
            group(
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataEngineer_0123456789abcdef",
                24,
            ),
            group("arn:aws:iam::111122223333:user/alice\u{1b}[2J", 5),
        ];
        for width in [60, 80, 120, 200, 400] {
            let out = render(&groups, width);
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 2 + 2 + groups.len(), "one line per row at width {width}:\n{out}");
            for l in &lines {
                assert!(l.chars().count() <= width, "line wider than {width}: {l}");
            }
            assert!(!out.contains('\u{1b}'), "raw escape reached the table");
        }
        let wide = render(&groups, 400);
        assert!(wide.contains("AWSReservedSSO_DataEngineer_0123456789abcdef"));
        assert!(wide.contains("\\x1b[2J"));
        assert!(render(&groups, 80).contains('…'));
    }
}
