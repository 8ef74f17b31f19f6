//! HLS playlists for the engine: the media playlists of a master, fetched
//! at once, and a live presentation's reloads ([`HlsLive`]).

use std::cell::RefCell;
use std::rc::Rc;

use media_core::hls::{LiveTimes, MasterPlaylist, MediaPlaylist};
use media_core::mpd::Manifest;
use wasm_bindgen::prelude::*;

use super::fetch::{finish_text, start_fetch, Scope};

pub(super) fn bad_playlist(e: media_core::hls::HlsError) -> JsValue {
    JsValue::from_str(&format!("bad playlist: {e}"))
}

/// The media playlists of `master`'s variants (None where one failed or
/// is out of `scope`) and of its audio rendition: every request goes out
/// at once, the answers are read in order. They may IMPORT the master's
/// variables.
pub(super) async fn fetch_media(
    scope: &Scope,
    master: &MasterPlaylist,
    audio_uri: Option<&str>,
) -> Result<(Vec<Option<MediaPlaylist>>, Option<MediaPlaylist>), JsValue> {
    use media_core::hls::{parse_listed_playlist, Playlist};
    let audio = audio_uri.map(|u| (start_fetch(scope, u), u));
    let pending: Vec<_> = master.variants.iter().map(|v| scope.allows(&v.uri, None).then(|| start_fetch(scope, &v.uri))).collect();
    let mut media = Vec::new();
    for (v, p) in master.variants.iter().zip(pending) {
        let Some(p) = p else {
            media.push(None);
            continue;
        };
        let m = match finish_text(p, &v.uri).await {
            Ok(t) => match parse_listed_playlist(&t, &v.uri, master) {
                Ok(Playlist::Media(m)) => Some(m),
                _ => None,
            },
            Err(_) => None,
        };
        media.push(m);
    }
    let audio = match audio {
        Some((p, u)) => match parse_listed_playlist(&finish_text(p, u).await?, u, master).map_err(bad_playlist)? {
            Playlist::Media(m) => Some(m),
            Playlist::Master(_) => None,
        },
        None => None,
    };
    Ok((media, audio))
}

/// A live HLS presentation: what a reload fetches and the timeline that
/// keeps segments in place across reloads (`media_core::hls::LiveTimes`).
pub(crate) struct HlsLive {
    pub(super) master: MasterPlaylist,
    pub(super) audio_uri: Option<String>,
    /// Which variants had a playlist at the start: a reload must have the
    /// same ones (the engine's choices are indices into them).
    pub(super) present: Vec<bool>,
    pub(super) times: RefCell<LiveTimes>,
    pub(super) scope: Rc<Scope>,
}

impl HlsLive {
    /// Place freshly fetched playlists on the timeline and model them.
    pub(super) fn manifest(&self, media: &mut [Option<MediaPlaylist>], audio: Option<&mut MediaPlaylist>) -> Manifest {
        let now = js_sys::Date::now();
        let mut times = self.times.borrow_mut();
        for (k, m) in media.iter_mut().enumerate() {
            if let Some(m) = m {
                times.place(k, m, now);
            }
        }
        let audio = audio.map(|a| {
            times.place(media.len(), a, now);
            &*a
        });
        media_core::hls::to_manifest(&self.master, media, audio, Some(&times))
    }

    /// Fetch every playlist again (the MSE shell asks when the engine says
    /// `RefreshManifest`).
    pub(crate) async fn reload(&self) -> Result<Manifest, JsValue> {
        // (A lone media playlist is the one variant of `single_variant`.)
        let (mut media, mut audio) = fetch_media(&self.scope, &self.master, self.audio_uri.as_deref()).await?;
        if media.iter().map(Option::is_some).collect::<Vec<_>>() != self.present || audio.is_none() != self.audio_uri.is_none() {
            return Err(JsValue::from_str("a playlist could not be reloaded"));
        }
        Ok(self.manifest(&mut media, audio.as_mut()))
    }
}
