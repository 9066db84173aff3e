//! Memory stays flat in the input size: inputs far larger than the allowed heap are generated on
//! the fly (never held in memory), read through `read`, and a counting allocator checks the peak
//! heap while the callback checks that records arrive one by one as the input is produced.
//!
//! One test in this binary only, so that no other test's allocations disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_ingest::{read, Format, ItemKind};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_alloc(size: usize) {
    let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            note_alloc(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Produces `count` records on demand: NDJSON lines, or the elements of a JSON array
/// (optionally inside a wrapper object), never more than one record buffered.
struct Generator {
    count: u64,
    next: u64,
    shape: Shape,
    make: fn(u64) -> String,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    produced: Rc<Cell<u64>>,
    generated: Rc<Cell<u64>>,
}

#[derive(Clone, Copy)]
enum Shape {
    Lines,
    Array {
        open: &'static str,
        close: &'static str,
    },
}

impl Generator {
    fn new(
        count: u64,
        shape: Shape,
        make: fn(u64) -> String,
        produced: Rc<Cell<u64>>,
        generated: Rc<Cell<u64>>,
    ) -> Self {
        let mut g = Generator {
            count,
            next: 0,
            shape,
            make,
            buf: Vec::new(),
            pos: 0,
            done: false,
            produced,
            generated,
        };
        if let Shape::Array { open, .. } = shape {
            g.buf.extend_from_slice(open.as_bytes());
        }
        g
    }

    fn refill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        if self.next == self.count {
            if let Shape::Array { close, .. } = self.shape {
                self.buf.extend_from_slice(close.as_bytes());
            }
            self.done = true;
            return;
        }
        let record = (self.make)(self.next);
        match self.shape {
            Shape::Lines => {
                self.buf.extend_from_slice(record.as_bytes());
                self.buf.push(b'\n');
            }
            Shape::Array { .. } => {
                if self.next > 0 {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(record.as_bytes());
            }
        }
        self.next += 1;
        self.generated.set(self.next);
    }
}

impl Read for Generator {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.refill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.produced.set(self.produced.get() + n as u64);
        Ok(n)
    }
}

/// A Mastodon status of about 1.2 KB, padded so the whole input is large.
fn mastodon_status(i: u64) -> String {
    format!(
        r#"{{"id":"{i}","created_at":"2024-11-01T09:15:30.123Z","in_reply_to_id":{parent},"spoiler_text":"","visibility":"public","language":"ko","uri":"https://example.social/users/u{i}/statuses/{i}","url":"https://example.social/@u{i}/{i}","replies_count":1,"reblogs_count":2,"favourites_count":{i},"content":"<p>안녕하세요 {i} 👋 <a href=\"https://example.social/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>rust</span></a> <a href=\"https://example.com/x?utm_source=m&amp;id={i}\"><span class=\"invisible\">https://</span>example.com/x</a></p><p>{pad}</p>","account":{{"id":"{a}","acct":"u{a}","display_name":"User {a}","url":"https://example.social/@u{a}","followers_count":10}},"mentions":[],"tags":[{{"name":"rust","url":"https://example.social/tags/rust"}}]}}"#,
        parent = if i % 2 == 1 {
            format!("\"{}\"", i - 1)
        } else {
            "null".into()
        },
        a = i % 1000,
        pad = "lorem ipsum dolor sit amet ".repeat(24),
    )
}

fn switchboard_item(i: u64) -> String {
    format!(
        r#"{{"network":"x","external_id":"{i}","kind":"post","author":{{"id":"a{i}"}},"text":"item {i} #tag","hashtags":["tag"],"created_at":"2024-01-01T00:00:00Z"}}"#
    )
}

struct Run {
    records: u64,
    bytes: u64,
    peak_heap: usize,
}

/// Reads a generated input; checks each record as it arrives, and that it arrives while the
/// generator is only a few records (one buffer's worth) ahead of it.
fn run(format: &Format, count: u64, shape: Shape, make: fn(u64) -> String) -> Run {
    let produced = Rc::new(Cell::new(0u64));
    let generated = Rc::new(Cell::new(0u64));
    let reader = BufReader::with_capacity(
        64 * 1024,
        Generator::new(count, shape, make, produced.clone(), generated.clone()),
    );
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let mut seen = 0u64;
    let n = read(reader, format, |rec| {
        seen += 1;
        let item = rec.into_item().expect("generated records are valid");
        let id = item.external_id.rsplit('/').next().unwrap();
        assert_eq!(id.parse::<u64>().unwrap(), seen - 1);
        // Delivered while the input just past it is being produced: the generator is at most
        // one 64 KiB buffer (records here are >= 150 bytes) ahead, never the whole input.
        let ahead = generated.get() - seen;
        assert!(
            ahead <= 64 * 1024 / 150 + 2,
            "record {seen} delivered {ahead} records after it was produced"
        );
        if let ItemKind::Reply = item.kind {
            assert!(item.parent_id.is_some());
        }
        ControlFlow::Continue(())
    })
    .expect("read");
    assert_eq!(n, count);
    assert_eq!(seen, count);
    let run = Run {
        records: n,
        bytes: produced.get(),
        peak_heap: PEAK.load(Ordering::Relaxed).saturating_sub(baseline),
    };
    eprintln!(
        "{}: {} records, {} bytes, peak heap {} bytes",
        format, run.records, run.bytes, run.peak_heap
    );
    run
}

#[test]
fn memory_stays_flat_for_inputs_far_larger_than_the_heap_allowed() {
    const MIB: usize = 1024 * 1024;
    let limit = MIB;

    // ~21 MB of Mastodon NDJSON.
    let r = run(&Format::Mastodon, 15_000, Shape::Lines, mastodon_status);
    assert!(r.bytes > 20_000_000, "{}", r.bytes);
    assert!(
        r.peak_heap < limit,
        "NDJSON peak heap {} bytes",
        r.peak_heap
    );

    // ~14 MB as one JSON array, streamed by the serde visitor.
    let r = run(
        &Format::Mastodon,
        10_000,
        Shape::Array {
            open: "[",
            close: "]",
        },
        mastodon_status,
    );
    assert!(r.bytes > 13_000_000, "{}", r.bytes);
    assert!(r.peak_heap < limit, "array peak heap {} bytes", r.peak_heap);

    // An outbox-like wrapper object with the array under a key (the Bluesky shape here).
    fn bluesky(i: u64) -> String {
        format!(
            r#"{{"uri":"at://did:plc:a/app.bsky.feed.post/{i}","cid":"c","author":{{"did":"did:plc:a","handle":"a.test"}},"record":{{"text":"{pad} {i}","createdAt":"2024-01-01T00:00:00Z"}},"likeCount":1}}"#,
            pad = "x".repeat(400)
        )
    }
    let r = run(
        &Format::Bluesky,
        10_000,
        Shape::Array {
            open: r#"{"cursor":"x","posts":["#,
            close: "]}",
        },
        bluesky,
    );
    assert!(r.bytes > 5_000_000, "{}", r.bytes);
    assert!(
        r.peak_heap < limit,
        "wrapper peak heap {} bytes",
        r.peak_heap
    );

    // Many small records: 100k Switchboard NDJSON lines.
    let r = run(
        &Format::Switchboard,
        100_000,
        Shape::Lines,
        switchboard_item,
    );
    assert_eq!(r.records, 100_000);
    assert!(
        r.peak_heap < limit,
        "small-record peak heap {} bytes",
        r.peak_heap
    );
}
