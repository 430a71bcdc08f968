# Turns benches/compare/denied.jq's lines into groups the way denytrail counts them (src/scan.rs
# dedupe): repeats of an eventID are dropped, and the copies of one cross-account request (same
# sharedEventID) count once, under the copy that names the caller best (highest rank, then lowest
# eventID). Prints "denied<TAB>principal<TAB>bucket<TAB>prefix", unsorted.
BEGIN { FS = OFS = "\t" }
$4 != "" && seen[$4]++ { next }
{
    k = $5 != "" ? "s" $5 : ($4 != "" ? "e" $4 : "n" NR)
    if (!(k in rank) || $6 > rank[k] || ($6 == rank[k] && $4 < eid[k])) {
        rank[k] = $6; eid[k] = $4; group[k] = $1 OFS $2 OFS $3
    }
}
END {
    for (k in group) n[group[k]]++
    for (g in n) print n[g], g
}
