//! Every event the player dispatches, in one closed list: its name, the
//! TypeScript type of its `detail`, one line of documentation and where it
//! fires. `dom::emit` takes an [`Event`], so an event not listed here cannot
//! be dispatched.
//!
//! No wasm or web-sys in here: `cargo xtask codegen` includes this file
//! (`#[path]`) and writes from it `www/events.js` (`EVENTS`), the event maps
//! of `www/watch-together.d.ts` and `www/media-player.d.ts` and the events
//! table of the READMEs; the tidy stage checks they are up to date. The
//! `ts` types name the interfaces those `.d.ts` files declare.

/// Where an event fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// On a room `Session` only.
    Session,
    /// From the media engine or the text tracks: on a `Session` and on a
    /// room-less `MediaPlayer` alike.
    SessionAndMediaPlayer,
}

macro_rules! events {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal, $targets:ident, $ts:literal;)*) => {
        /// An event the player dispatches: a `CustomEvent` with its data in `detail`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Event {
            $($(#[doc = $doc])+ $variant,)*
        }

        impl Event {
            /// Every event, in the order the documentation lists them.
            pub const ALL: &'static [Event] = &[$(Event::$variant),*];

            /// The event's type, as `addEventListener` takes it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Event::$variant => $name,)*
                }
            }

            /// The TypeScript type of `detail` (names declared in the `.d.ts` files).
            pub fn ts(self) -> &'static str {
                match self {
                    $(Event::$variant => $ts,)*
                }
            }

            /// One line: when it fires and what `detail` says.
            pub fn doc(self) -> &'static str {
                match self {
                    $(Event::$variant => concat!($($doc),+).trim_ascii(),)*
                }
            }

            /// Where it fires.
            pub fn targets(self) -> Targets {
                match self {
                    $(Event::$variant => Targets::$targets,)*
                }
            }
        }
    };
}

events! {
    /// You joined the room (again after a reconnect): your member id and role.
    Joined = "joined", Session, "{ member: number; role: Role }";
    /// The room's playback state changed: `by` the member whose command changed it (null: the room itself), and why.
    State = "state", Session, "PlaybackState";
    /// The room plays another source (`by`: who set it; null when the queue moved on).
    Source = "source", Session, "Source";
    /// The members changed (a join, a leave, a role, a status, a drift report): the whole list.
    Members = "members", Session, "Member[]";
    /// The queue changed: the whole list.
    Queue = "queue", Session, "QueueItem[]";
    /// The room's bans changed (the host may lift one with `unban`).
    Bans = "bans", Session, "Ban[]";
    /// The room's mode or password changed.
    Settings = "settings", Session, "RoomSettings";
    /// A chat line (the recent ones come after joining).
    Chat = "chat", Session, "ChatMessage";
    /// Sync figures, about four times a second.
    Stats = "stats", Session, "SyncStats";
    /// The room refused a command of yours: the video is put back.
    Reverted = "reverted", Session, "ErrorDetail";
    /// Something failed: a refused command, the media, a subtitle file.
    Error = "error", SessionAndMediaPlayer, "ErrorDetail";
    /// The socket opened, closed (then `retryInMs`), or the room removed or refused you.
    Connection = "connection", Session, "ConnectionState";
    /// Autoplay was refused (playing muted) or the audio is suspended: any tap or key brings the sound back.
    NeedsGesture = "needs-gesture", Session, "null";
    /// The sound is back after a gesture.
    Unmuted = "unmuted", Session, "null";
    /// The WebAudio graph's state changed.
    Audio = "audio", Session, "AudioStatus";
    /// The video ladder is known (DASH or HLS).
    Qualities = "qualities", SessionAndMediaPlayer, "Quality[]";
    /// A quality is being fetched.
    Quality = "quality", SessionAndMediaPlayer, "Quality";
    /// The media engine waits for data (true) or has enough again (false).
    Buffering = "buffering", SessionAndMediaPlayer, "boolean";
    /// How your copy of the room's local file compares with the room's.
    LocalFile = "local-file", Session, "LocalFileMatch";
    /// The selected text track's showing cues changed.
    Cue = "cue", SessionAndMediaPlayer, "CueChange";
    /// Another text track is showing (its id), or none (null).
    TextTrack = "texttrack", SessionAndMediaPlayer, "number | null";
    /// The text tracks changed (a load, a file): the whole list.
    TextTracks = "texttracks", SessionAndMediaPlayer, "TextTrackInfo[]";
    /// The room's subtitle files, their delay or its default language changed.
    Subtitles = "subtitles", Session, "RoomSubtitles";
    /// MPEG-TS HLS: a CEA-608 caption (CC1 from H.264 SEI) as broadcast showed it, once it ends.
    Caption = "caption", SessionAndMediaPlayer, "Caption";
    /// MPEG-TS HLS: timed ID3 metadata at a presentation time (s).
    Metadata = "metadata", SessionAndMediaPlayer, "TimedMetadata";
    /// MPEG-TS HLS: one segment transmuxed on the main thread (bytes of TS, ms) and each track's span as appended (s).
    Transmux = "transmux", SessionAndMediaPlayer, "TransmuxTiming";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_documented() {
        let mut names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        assert!(names.iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')), "{names:?}");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Event::ALL.len(), "no name twice");
        for e in Event::ALL {
            assert!(!e.doc().is_empty() && !e.doc().contains('\n') && !e.ts().is_empty(), "{e:?}");
        }
        assert_eq!(Event::NeedsGesture.doc(), "Autoplay was refused (playing muted) or the audio is suspended: any tap or key brings the sound back.");
    }
}
