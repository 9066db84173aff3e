//! `a NEAR/n b` for tantivy. Its phrase slop spends one budget across every gap of a phrase
//! and treats order loosely, which is not what `NEAR` promises when a side is a phrase; this
//! query checks the distance between the two sides exactly as [`crate::matcher::near`] does.

use crate::matcher::near;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption, Term};
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, TERMINATED};

#[derive(Clone, Debug)]
pub struct NearQuery {
    field: Field,
    /// Distinct terms of both sides.
    terms: Vec<Term>,
    /// Each side as indexes into `terms`.
    left: Vec<usize>,
    right: Vec<usize>,
    distance: u32,
    ordered: bool,
}

impl NearQuery {
    pub fn new(
        field: Field,
        left: &[String],
        right: &[String],
        distance: u32,
        ordered: bool,
    ) -> NearQuery {
        let mut terms: Vec<Term> = Vec::new();
        let mut index = |w: &String| -> usize {
            let t = Term::from_field_text(field, w);
            match terms.iter().position(|x| *x == t) {
                Some(i) => i,
                None => {
                    terms.push(t);
                    terms.len() - 1
                }
            }
        };
        let left = left.iter().map(&mut index).collect();
        let right = right.iter().map(&mut index).collect();
        NearQuery {
            field,
            terms,
            left,
            right,
            distance,
            ordered,
        }
    }
}

impl Query for NearQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for t in &self.terms {
            visitor(t, true);
        }
    }
}

impl Weight for NearQuery {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let index = reader.inverted_index(self.field)?;
        let mut postings = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            match index.read_postings(t, IndexRecordOption::WithFreqsAndPositions)? {
                Some(p) => postings.push(p),
                None => return Ok(Box::new(tantivy::query::EmptyScorer)),
            }
        }
        let mut s = NearScorer {
            q: self.clone(),
            postings,
            positions: vec![Vec::new(); self.terms.len()],
            left_starts: Vec::new(),
            right_starts: Vec::new(),
            doc: 0,
        };
        let first = s
            .postings
            .iter()
            .map(|p| p.doc())
            .max()
            .unwrap_or(TERMINATED);
        s.doc = s.next_match(first);
        Ok(Box::new(s))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut s = self.scorer(reader, 1.0)?;
        if s.seek(doc) == doc {
            Ok(Explanation::new("NearQuery", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(
                "document does not match".into(),
            ))
        }
    }
}

struct NearScorer {
    q: NearQuery,
    postings: Vec<SegmentPostings>,
    positions: Vec<Vec<u32>>,
    /// Reused for each document: where each side starts.
    left_starts: Vec<u32>,
    right_starts: Vec<u32>,
    doc: DocId,
}

/// Start positions where the side (term indexes) occurs, from each term's positions.
fn side_starts(side: &[usize], positions: &[Vec<u32>], out: &mut Vec<u32>) {
    out.clear();
    let Some(&first) = side.first() else {
        return;
    };
    out.extend(positions[first].iter().copied().filter(|&p| {
        side.iter()
            .enumerate()
            .skip(1)
            .all(|(k, &t)| positions[t].binary_search(&(p + k as u32)).is_ok())
    }));
}

impl NearScorer {
    /// All postings on one document at or after `target`.
    fn align(&mut self, mut target: DocId) -> DocId {
        'outer: loop {
            if target == TERMINATED {
                return TERMINATED;
            }
            for p in &mut self.postings {
                let d = if p.doc() < target {
                    p.seek(target)
                } else {
                    p.doc()
                };
                if d > target {
                    target = d;
                    continue 'outer;
                }
            }
            return target;
        }
    }

    fn matches_here(&mut self) -> bool {
        for (p, buf) in self.postings.iter_mut().zip(self.positions.iter_mut()) {
            buf.clear();
            p.positions(buf);
        }
        side_starts(&self.q.left, &self.positions, &mut self.left_starts);
        if self.left_starts.is_empty() {
            return false;
        }
        side_starts(&self.q.right, &self.positions, &mut self.right_starts);
        near(
            &self.left_starts,
            self.q.left.len() as u32,
            &self.right_starts,
            self.q.right.len() as u32,
            self.q.distance,
            self.q.ordered,
        )
    }

    fn next_match(&mut self, mut target: DocId) -> DocId {
        loop {
            let d = self.align(target);
            if d == TERMINATED || self.matches_here() {
                return d;
            }
            target = d + 1;
        }
    }
}

impl DocSet for NearScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        self.doc = self.next_match(self.doc + 1);
        self.doc
    }
    fn seek(&mut self, target: DocId) -> DocId {
        if target <= self.doc {
            return self.doc;
        }
        self.doc = self.next_match(target);
        self.doc
    }
    /// Checks `target` alone, reading positions only when every term is on it: in an
    /// intersection (a workspace filter, other terms) the cheaper clause leads and this one
    /// is only asked about its candidates, as tantivy's phrase query is.
    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        if target >= TERMINATED {
            return SeekDangerResult::SeekLowerBound(TERMINATED);
        }
        let mut lower = target;
        for p in &mut self.postings {
            let d = if p.doc() < target {
                p.seek(target)
            } else {
                p.doc()
            };
            lower = lower.max(d);
        }
        if lower > target {
            return SeekDangerResult::SeekLowerBound(lower);
        }
        if self.matches_here() {
            self.doc = target;
            SeekDangerResult::Found
        } else {
            SeekDangerResult::SeekLowerBound(target + 1)
        }
    }
    fn doc(&self) -> DocId {
        self.doc
    }
    fn size_hint(&self) -> u32 {
        self.postings
            .iter()
            .map(|p| p.size_hint())
            .min()
            .unwrap_or(0)
    }
    /// Like tantivy's phrase scorer: every candidate costs reading positions, so cheaper
    /// clauses should drive an intersection.
    fn cost(&self) -> u64 {
        self.size_hint() as u64 * 10 * self.postings.len() as u64
    }
}

impl Scorer for NearScorer {
    fn score(&mut self) -> Score {
        1.0
    }
}
