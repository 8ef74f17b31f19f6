//! Rewrite throughput (run by `cargo xtask bench rewrite`, release build).
//!
//! Inputs are generated: an MPD with one long SegmentList (≥ 5 MB, relative
//! SegmentURLs kept as written below a proxied BaseURL), the 1 MB MPD of
//! ~15 000 absolute SegmentURLs that the workerd half of the bench serves
//! (`tests/bench/rewrite.mjs`, same text), and an HLS media playlist with
//! 60 000 segments. Each is rewritten with the same signing map the worker
//! uses, next to a ceiling: quick-xml tokenisation of the MPD; for the
//! absolute MPD and the playlist, where every reference must be signed,
//! that plus the map's own cost (`Linker::link` on each already-resolved
//! URL), which no rewriter can avoid. Best of several runs. Figures go to
//! stdout and, as JSON, to the path given as the first argument.

use std::hint::black_box;
use std::time::Instant;

use media_core::proxy::sign::Linker;
use media_core::rewrite::{rewrite_dash, rewrite_hls, RefKind, UrlRef};
use quick_xml::events::Event;
use quick_xml::Reader;

const SECRET: &[u8] = b"bench-secret-0123456789abcdef";
const ORIGIN: &str = "https://watch.example";
const ROOM: &str = "bench-room";
const EXPIRES: u64 = 1_800_000_000;

fn mpd(segments: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" mediaPresentationDuration=\"PT100H\">\n <Period>\n  <BaseURL>media/</BaseURL>\n  <AdaptationSet mimeType=\"video/mp4\">\n   <Representation id=\"v1\" bandwidth=\"2000000\" codecs=\"avc1.64001f\">\n    <SegmentList timescale=\"1000\" duration=\"4000\">\n     <Initialization sourceURL=\"v1/init.mp4\"/>\n");
    for i in 0..segments {
        s.push_str(&format!("     <SegmentURL media=\"v1/segment-{i:08}.m4s\" mediaRange=\"{}-{}\"/>\n", i * 1000, i * 1000 + 999));
    }
    s.push_str("    </SegmentList>\n   </Representation>\n  </AdaptationSet>\n </Period>\n</MPD>\n");
    s
}

/// The workerd bench's MPD (`tests/bench/rewrite.mjs`): absolute SegmentURLs up to 1 MB.
fn absolute_mpd() -> (String, Vec<String>) {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" mediaPresentationDuration=\"PT10H\"><Period><AdaptationSet mimeType=\"video/mp4\"><Representation id=\"v\" bandwidth=\"2000000\" codecs=\"avc1.64001f\"><SegmentList timescale=\"1000\" duration=\"4000\">\n<Initialization sourceURL=\"https://cdn.example/vod/v/init.mp4\"/>\n");
    let mut urls = vec!["https://cdn.example/vod/v/init.mp4".to_string()];
    while s.len() < 1_000_000 {
        let url = format!("https://cdn.example/vod/v/segment-{:06}.m4s", urls.len() - 1);
        s.push_str(&format!("<SegmentURL media=\"{url}\"/>\n"));
        urls.push(url);
    }
    s.push_str("</SegmentList></Representation></AdaptationSet></Period></MPD>\n");
    (s, urls)
}

fn playlist(segments: usize) -> (String, Vec<String>) {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    let mut urls = vec!["https://origin.example/vod/init.mp4".to_string()];
    for i in 0..segments {
        s.push_str(&format!("#EXTINF:4.000,\nsegments/seg-{i:08}.m4s\n"));
        urls.push(format!("https://origin.example/vod/segments/seg-{i:08}.m4s"));
    }
    s.push_str("#EXT-X-ENDLIST\n");
    (s, urls)
}

/// Best time (s) of `runs` calls of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn tokenise(text: &str) -> usize {
    let mut r = Reader::from_str(text);
    let mut n = 0;
    loop {
        match r.read_event() {
            Ok(Event::Eof) | Err(_) => return n,
            Ok(Event::Start(e) | Event::Empty(e)) => n += e.attributes().flatten().count() + 1,
            Ok(_) => n += 1,
        }
    }
}

/// The map alone: one worker `Linker` linking every URL of `urls`.
fn link_all(urls: &[String]) -> usize {
    let mut linker = Linker::new(ORIGIN, SECRET, ROOM, EXPIRES);
    urls.iter().map(|u| linker.link(UrlRef { kind: RefKind::Url, prefix: u, rest: "" }).map_or(0, |l| l.len())).sum()
}

fn rewrite(kind: &str, text: &str, url: &str) -> usize {
    let mut linker = Linker::new(ORIGIN, SECRET, ROOM, EXPIRES);
    let mut m = |r: UrlRef<'_>| linker.link(r);
    let out = if kind == "hls" { rewrite_hls(text, url, &mut m) } else { rewrite_dash(text, url, &mut m) };
    match out {
        Ok(o) => o.text.len(),
        Err(e) => {
            eprintln!("rewrite failed: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "target/bench/rewrite-native.json".into());
    let runs = 7;
    let mb = |bytes: usize, secs: f64| bytes as f64 / 1e6 / secs;

    let dash = mpd(90_000);
    let dash_url = "https://origin.example/vod/manifest.mpd";
    let dash_rewrite = best(runs, || {
        black_box(rewrite("dash", black_box(&dash), dash_url));
    });
    let dash_ceiling = best(runs, || {
        black_box(tokenise(black_box(&dash)));
    });
    let rewritten = rewrite("dash", &dash, dash_url);
    let dash_ratio = dash_ceiling / dash_rewrite;

    let (abs, abs_urls) = absolute_mpd();
    let abs_rewrite = best(runs * 3, || {
        black_box(rewrite("dash", black_box(&abs), dash_url));
    });
    let abs_tokenise = best(runs * 3, || {
        black_box(tokenise(black_box(&abs)));
    });
    let abs_links = best(runs * 3, || {
        black_box(link_all(black_box(&abs_urls)));
    });
    let abs_ceiling = abs_tokenise + abs_links;

    let (hls, hls_urls) = playlist(60_000);
    let hls_url = "https://origin.example/vod/media.m3u8";
    let hls_rewrite = best(runs, || {
        black_box(rewrite("hls", black_box(&hls), hls_url));
    });
    let hls_scan = best(runs, || {
        black_box(black_box(&hls).lines().filter(|l| !l.starts_with('#')).count());
    });
    let hls_links = best(runs, || {
        black_box(link_all(black_box(&hls_urls)));
    });
    let hls_ceiling = hls_scan + hls_links;
    let per_line = |secs: f64| secs * 1e9 / hls_urls.len() as f64;

    println!("    MPD, SegmentList of 90 000 relative entries ({:.1} MB → {:.1} MB rewritten):", dash.len() as f64 / 1e6, rewritten as f64 / 1e6);
    println!(
        "        rewrite {:.0} MB/s · quick-xml tokenisation alone {:.0} MB/s · ratio {dash_ratio:.2}",
        mb(dash.len(), dash_rewrite),
        mb(dash.len(), dash_ceiling)
    );
    println!("    MPD of 1 MB, {} absolute SegmentURLs (the workerd bench's input):", abs_urls.len() - 1);
    println!(
        "        rewrite {:.2} ms · ceiling {:.2} ms (tokenisation {:.2} ms + the map alone {:.2} ms) · ratio {:.2}",
        abs_rewrite * 1e3,
        abs_ceiling * 1e3,
        abs_tokenise * 1e3,
        abs_links * 1e3,
        abs_ceiling / abs_rewrite
    );
    println!("    HLS media playlist, 60 000 segments ({:.1} MB):", hls.len() as f64 / 1e6);
    println!(
        "        rewrite {:.0} MB/s, {:.0} ns per segment line · ceiling {:.0} ns per line (line scan {:.0} ns + the map alone {:.0} ns) · ratio {:.2}",
        mb(hls.len(), hls_rewrite),
        per_line(hls_rewrite),
        per_line(hls_ceiling),
        per_line(hls_scan),
        per_line(hls_links),
        hls_ceiling / hls_rewrite
    );
    let json = format!(
        "{{\n  \"dash\": {{ \"input_mb\": {:.2}, \"segments\": 90000, \"rewrite_mb_s\": {:.1}, \"quick_xml_tokenise_mb_s\": {:.1}, \"ratio\": {dash_ratio:.3} }},\n  \
         \"dash_absolute_1mb\": {{ \"input_mb\": {:.2}, \"segment_urls\": {}, \"rewrite_ms\": {:.3}, \"tokenise_ms\": {:.3}, \"map_alone_ms\": {:.3}, \"ratio\": {:.3} }},\n  \
         \"hls\": {{ \"input_mb\": {:.2}, \"segments\": 60000, \"rewrite_mb_s\": {:.1}, \"rewrite_ns_per_line\": {:.0}, \"line_scan_ns_per_line\": {:.0}, \"map_alone_ns_per_line\": {:.0}, \"ratio\": {:.3} }}\n}}\n",
        dash.len() as f64 / 1e6,
        mb(dash.len(), dash_rewrite),
        mb(dash.len(), dash_ceiling),
        abs.len() as f64 / 1e6,
        abs_urls.len() - 1,
        abs_rewrite * 1e3,
        abs_tokenise * 1e3,
        abs_links * 1e3,
        abs_ceiling / abs_rewrite,
        hls.len() as f64 / 1e6,
        mb(hls.len(), hls_rewrite),
        per_line(hls_rewrite),
        per_line(hls_scan),
        per_line(hls_links),
        hls_ceiling / hls_rewrite
    );
    if let Some(dir) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out, json) {
        eprintln!("cannot write {out}: {e}");
        std::process::exit(1);
    }
}
