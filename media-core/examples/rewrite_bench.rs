//! Rewrite throughput (run by `cargo xtask bench rewrite`, release build).
//!
//! Inputs are generated: an MPD with one long SegmentList (≥ 5 MB) and an
//! HLS media playlist with 60 000 segments. Each is rewritten with the same
//! signing map the worker uses, next to the ceiling of doing nothing but
//! reading it: quick-xml tokenisation of the MPD, a line scan of the
//! playlist. Best of several runs. Figures go to stdout and, as JSON, to the
//! path given as the first argument.

use std::hint::black_box;
use std::time::Instant;

use media_core::proxy::sign::Linker;
use media_core::rewrite::{rewrite_dash, rewrite_hls, UrlRef};
use quick_xml::events::Event;
use quick_xml::Reader;

const SECRET: &[u8] = b"bench-secret-0123456789abcdef";

fn mpd(segments: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" mediaPresentationDuration=\"PT100H\">\n <Period>\n  <BaseURL>media/</BaseURL>\n  <AdaptationSet mimeType=\"video/mp4\">\n   <Representation id=\"v1\" bandwidth=\"2000000\" codecs=\"avc1.64001f\">\n    <SegmentList timescale=\"1000\" duration=\"4000\">\n     <Initialization sourceURL=\"v1/init.mp4\"/>\n");
    for i in 0..segments {
        s.push_str(&format!("     <SegmentURL media=\"v1/segment-{i:08}.m4s\" mediaRange=\"{}-{}\"/>\n", i * 1000, i * 1000 + 999));
    }
    s.push_str("    </SegmentList>\n   </Representation>\n  </AdaptationSet>\n </Period>\n</MPD>\n");
    s
}

fn playlist(segments: usize) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for i in 0..segments {
        s.push_str(&format!("#EXTINF:4.000,\nsegments/seg-{i:08}.m4s\n"));
    }
    s.push_str("#EXT-X-ENDLIST\n");
    s
}

/// Best MB/s of `runs` calls of `f` over `bytes` bytes.
fn best(bytes: usize, runs: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    bytes as f64 / 1e6 / best
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

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "target/bench/rewrite-native.json".into());
    let runs = 7;

    let dash = mpd(90_000);
    let dash_mb = dash.len() as f64 / 1e6;
    let dash_rewrite = best(dash.len(), runs, || {
        let mut linker = Linker::new("https://watch.example", SECRET, 1_800_000_000);
        let mut m = |r: UrlRef<'_>| linker.link(r);
        black_box(rewrite_dash(black_box(&dash), "https://origin.example/vod/manifest.mpd", &mut m).map(|o| o.text.len()).unwrap_or(0));
    });
    let dash_ceiling = best(dash.len(), runs, || {
        black_box(tokenise(black_box(&dash)));
    });
    let mut linker = Linker::new("https://watch.example", SECRET, 1_800_000_000);
    let rewritten = rewrite_dash(&dash, "https://origin.example/vod/manifest.mpd", &mut |r: UrlRef<'_>| linker.link(r)).map(|o| o.text.len()).unwrap_or(0);

    let hls = playlist(60_000);
    let hls_mb = hls.len() as f64 / 1e6;
    let hls_rewrite = best(hls.len(), runs, || {
        let mut linker = Linker::new("https://watch.example", SECRET, 1_800_000_000);
        let mut m = |r: UrlRef<'_>| linker.link(r);
        black_box(rewrite_hls(black_box(&hls), "https://origin.example/vod/media.m3u8", &mut m).map(|o| o.text.len()).unwrap_or(0));
    });
    let hls_ceiling = best(hls.len(), runs, || {
        black_box(black_box(&hls).lines().filter(|l| !l.starts_with('#')).count());
    });

    println!("    MPD, SegmentList of 90 000 entries ({dash_mb:.1} MB → {:.1} MB rewritten):", rewritten as f64 / 1e6);
    println!("        rewrite {dash_rewrite:.0} MB/s · quick-xml tokenisation alone {dash_ceiling:.0} MB/s · ratio {:.2}", dash_rewrite / dash_ceiling);
    println!("    HLS media playlist, 60 000 segments ({hls_mb:.1} MB):");
    println!("        rewrite {hls_rewrite:.0} MB/s · line scan alone {hls_ceiling:.0} MB/s · ratio {:.2}", hls_rewrite / hls_ceiling);
    let json = format!(
        "{{\n  \"dash\": {{ \"input_mb\": {dash_mb:.2}, \"segments\": 90000, \"rewrite_mb_s\": {dash_rewrite:.1}, \"quick_xml_tokenise_mb_s\": {dash_ceiling:.1}, \"ratio\": {:.3} }},\n  \"hls\": {{ \"input_mb\": {hls_mb:.2}, \"segments\": 60000, \"rewrite_mb_s\": {hls_rewrite:.1}, \"line_scan_mb_s\": {hls_ceiling:.1}, \"ratio\": {:.3} }}\n}}\n",
        dash_rewrite / dash_ceiling,
        hls_rewrite / hls_ceiling
    );
    if let Some(dir) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out, json) {
        eprintln!("cannot write {out}: {e}");
        std::process::exit(1);
    }
}
