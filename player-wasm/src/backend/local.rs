//! A member's own copy of a file: what identifies it (`sync_core::source`'s
//! fingerprint over a few MB at fixed offsets, and its duration), read in
//! the page. Nothing of the file leaves the device.

use sync_core::source::{fingerprint_windows, Fingerprint, LocalFile};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, HtmlVideoElement};

/// SHA-256 over the file's size and its sampled windows (about 5 MB read).
pub async fn fingerprint(file: &File) -> Result<String, JsValue> {
    let size = file.size() as u64;
    let mut fp = Fingerprint::new(size);
    for (start, end) in fingerprint_windows(size) {
        let blob = file.slice_with_f64_and_f64(start as f64, end as f64)?;
        let buf = JsFuture::from(blob.array_buffer()).await?;
        fp.update(&js_sys::Uint8Array::new(&buf).to_vec());
    }
    Ok(fp.finish())
}

/// The file's duration, read by a detached element from its metadata only.
pub async fn duration(file: &File) -> Result<f64, JsValue> {
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let video: HtmlVideoElement = doc.create_element("video")?.dyn_into()?;
    video.set_preload("metadata");
    video.set_muted(true);
    let url = web_sys::Url::create_object_url_with_blob(file)?;
    video.set_src(&url);
    let loaded = crate::dom::once(video.as_ref(), "loadedmetadata").await;
    let d = video.duration();
    let _ = video.remove_attribute("src");
    video.load();
    let _ = web_sys::Url::revoke_object_url(&url);
    if loaded.is_err() || !d.is_finite() || d <= 0.0 {
        return Err(JsValue::from_str(&format!("this browser cannot play {} (or it has no duration)", file.name())));
    }
    Ok(d)
}

/// What the room keeps of a file the host picked.
pub async fn describe(file: &File) -> Result<LocalFile, JsValue> {
    let duration = duration(file).await?;
    let fingerprint = fingerprint(file).await?;
    // (A name is kept short: the room refuses a source over its URL limit.)
    Ok(LocalFile { fingerprint, size: file.size() as u64, duration, name: file.name().chars().take(120).collect() })
}
