// Types of the public JavaScript API (watch-together.js).

// Self-contained on purpose: wasm-bindgen's own pkg/player_wasm.d.ts needs
// `Symbol.dispose` (lib esnext), which many consumers' settings lack.

export interface SyncStats {
  /** Server clock minus ours (ms), and the bound of its error. */
  offsetMs: number | null;
  offsetErrorMs: number | null;
  rttMs: number | null;
  /** What the edge time endpoint contributes: "agrees" (the estimate uses it), "disagrees" (its bounds miss the room's: set aside), "failing", "waiting", "off". */
  edgeClock: "off" | "waiting" | "agrees" | "disagrees" | "failing";
  /** The edge's clock minus the room's as this viewer observes them (ms), and that observation's bound; null before both have answered. */
  edgeMinusRoomMs: number | null;
  edgeMinusRoomErrorMs: number | null;
  /** The edge's most recent round trip (ms). */
  edgeRttMs: number | null;
  skewPpm: number;
  /** Our position minus the room's (ms; positive = ahead). */
  driftMs: number | null;
  /** The playback rate the sync loop has set. */
  rate: number;
  rateCorrections: number;
  seekCorrections: number;
  seekLandingMs: number;
  /** Media time a rate nudge itself costs on this browser (learned, ms; negative: nudges gain a little more than planned). */
  nudgeCostMs: number;
  correcting: boolean;
  /** Rate nudges in use (false: the player has no rates, or they were seen not to apply; drift is seeked away). */
  rateApplies: boolean;
  /** How far apart the element's position readings move while playing (ms), measured after each start; null: exact (Firefox: ~41). */
  readStepMs: number | null;
  /** Readings are replaced by the picture (the last second of frames from requestVideoFrameCallback, fitted, carried to now): where they are stepped, or where currentTime runs ahead of the picture. */
  readsPicture: boolean;
  /** How far (ms) the element's currentTime runs ahead of its picture, while it is found doing so (WebKitGTK with the element routed into WebAudio: ~1000); null: it agrees. */
  readLeadMs: number | null;
  /** The element's learned speed error, made up by running it that much faster (fraction of the room's rate; 0: none). */
  speedTrim: number;
}

/** The media engine alone, without a room: DASH, HLS (fMP4) and progressive files on one element (typed fully in `./media`). */
export class MediaPlayer {
  constructor(video: HTMLVideoElement);
  /** Events: those of `SessionEventMap` that README's table lists as firing on a MediaPlayer. */
  readonly events: EventTarget;
  /** Play a URL, or `{ url, kind }` to skip detection. */
  load(source: string | { url: string; kind?: "dash" | "hls" | "progressive" }): void;
  qualities(): Quality[];
  /** A quality index from `qualities()`, or "auto". */
  setQuality(choice: number | "auto"): void;
  /** Stop and release the element. */
  free(): void;
}

/** A text track (`Session.textTracks`): the stream's own, or a file you added. */
export interface TextTrackInfo {
  id: number;
  label: string;
  /** BCP 47 tag, or "" when unknown. */
  language: string;
  /** "stream": the source's own (fetched only while selected); "room": the room's files (everyone's); "file": yours, added with `addSubtitles`. */
  origin: "stream" | "room" | "file";
  /** false until a stream track's playlist is read (after it is first selected). */
  loaded: boolean;
  cues: number;
  selected: boolean;
}

/** The room's subtitle files (served to members as WebVTT) and the delay everyone applies to them. */
export interface RoomSubtitles {
  files: { id: number; label: string; language: string; cues: number; by: string }[];
  delayMs: number;
  /** The language members who have not picked a track get ("" for none). */
  language: string;
}

/** A cue showing now: times on the element's clock, `text` WebVTT markup, `plain` without. */
export interface ShowingCue { start: number; end: number; text: string; plain: string }
/** The selected text track (its id) and the cues it shows now. */
export interface CueChange { track: number; cues: ShowingCue[] }
/** MPEG-TS HLS: a CEA-608 caption as broadcast showed it (times in s). */
export interface Caption { track: "CC1"; start: number; end: number; text: string }
/** MPEG-TS HLS: timed ID3 metadata at a presentation time (s). */
export interface TimedMetadata { time: number; id3: Uint8Array }
/** MPEG-TS HLS: one segment transmuxed on the main thread: its bytes, the ms it took, each track's span as appended (s). */
export interface TransmuxTiming { segment: number; bytes: number; ms: number; video?: [number, number]; audio?: [number, number] }

/** Who may play, pause, seek and change the source: everyone, or the host and the members it picks. */
export type Mode = "open" | "controlled";
export type Role = "host" | "controller" | "viewer";

export interface JoinOptions {
  /** Origin of the edge worker, e.g. "https://watch.example"; default: the page's origin. */
  server?: string;
  /** Room id (from `POST /api/rooms`, or the last part of a room link). */
  room: string;
  /** The <video> element to play in. */
  video: HTMLVideoElement;
  /** Name shown to the others. */
  name?: string;
  /** The room's password, if it has one. */
  password?: string;
  /** The host token returned when the room was created: makes you its host. */
  hostToken?: string;
  /** Loudness normalisation through WebAudio (default true). */
  normalize?: boolean;
  /** Where player_wasm_bg.wasm is, if your bundler moved it. */
  wasmUrl?: string | URL;
  /** URL of YouTube's IFrame API script (default https://www.youtube.com/iframe_api). */
  youtubeApi?: string;
  /** URL of Vimeo's Player SDK script (default https://player.vimeo.com/api/player.js). */
  vimeoApi?: string;
  /** The edge time endpoint clock probes also ask, answered at the viewer's nearest point of presence (default: the server's `/api/time`); `false`: the room's own pings only. */
  edgeTime?: string | false;
}

export type ErrorCode =
  | "room_not_found" | "password_required" | "wrong_password" | "origin_not_allowed" | "network" | "bad_options"
  /** A command after `leave()`. */
  | "left"
  | (string & {});

/** A typed failure of `join()`, or a command after `leave()`. */
export class WatchTogetherError extends Error {
  readonly name: "WatchTogetherError";
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}

export interface Member {
  id: number;
  name: string;
  role: Role;
  /** `away`: disconnected, inside the reconnect grace period. */
  status: "ready" | "buffering" | "away";
  /** How far this member's video is from the room (ms), as it last reported. */
  driftMs?: number;
  /** Its round trip to the room (ms), as it last reported. */
  rttMs?: number;
}

export interface Source {
  url: string;
  title?: string;
  /** What the player fetches instead of `url` (a signed media-proxy link). */
  playUrl?: string;
  /** Which player plays it: the media engine, YouTube's or Vimeo's embed, or each member's own copy of a file. */
  kind: "media" | "youtube" | "vimeo" | "local";
  /** A local source: the file each member opens (`openLocalFile`). */
  file?: { name: string; size: number; duration: number };
  /** The member who set it; null when the queue moved on (or it was set before you joined). */
  by: number | null;
}
/** How your copy of the room's local file compares: the same bytes, another file of the same duration, or another video. */
export interface LocalFileMatch { match: "same" | "other-version" | "different"; name: string; roomName: string }
/** A queued source; `addedBy` is the member id of who queued it. */
export interface QueueItem { id: number; url: string; title?: string; addedBy: number }
export interface RoomSettings { mode: Mode; hasPassword: boolean }
export interface Quality { id: string; bandwidth: number; width: number | null; height: number | null }
export interface ChatMessage { id: number; member: number; name: string; text: string; /** server time, ms */ at: number }
/** Why the room changed its state itself: a member is buffering (the group waits), everyone is ready again, the item ended and the queue moved on, or it ended with nothing queued. */
export type StateReason = "buffering" | "resume" | "advance" | "end";
/**
 * The room's playback state. `by`: the member whose command changed it (null: the room itself, or the state you joined to);
 * `reason`: why the room changed it itself, else null; the state you joined to says "buffering" while the room waits
 * for a member who buffers (paused, meaning to play again).
 */
export interface PlaybackState { playing: boolean; position: number; rate: number; seq: number; by: number | null; reason: StateReason | null }
export interface ConnectionState { state: "connecting" | "open" | "closed" | "kicked" | "refused"; retryInMs?: number }
/** What went wrong: `code` (e.g. forbidden, media, subtitles) and a message for people. */
export interface ErrorDetail { code: string; message: string }
/** The detail of `error` and `reverted` (the name it had before 0.2). */
export type SessionError = ErrorDetail;
export interface AudioStatus { state: "running" | "suspended" | "interrupted" | "closed"; resumeAttempts: number; normalize: boolean; makeupGain: number }

export interface Ban { id: number; name: string }

// BEGIN GENERATED: events (cargo xtask codegen)
/** The `detail` of each event a Session dispatches. */
export interface SessionEventMap {
  /** You joined the room (again after a reconnect): your member id and role. */
  joined: CustomEvent<{ member: number; role: Role }>;
  /** The room's playback state changed: `by` the member whose command changed it (null: the room itself), and why. */
  state: CustomEvent<PlaybackState>;
  /** The room plays another source (`by`: who set it; null when the queue moved on). */
  source: CustomEvent<Source>;
  /** The members changed (a join, a leave, a role, a status, a drift report): the whole list. */
  members: CustomEvent<Member[]>;
  /** The queue changed: the whole list. */
  queue: CustomEvent<QueueItem[]>;
  /** The room's bans changed (the host may lift one with `unban`). */
  bans: CustomEvent<Ban[]>;
  /** The room's mode or password changed. */
  settings: CustomEvent<RoomSettings>;
  /** A chat line (the recent ones come after joining). */
  chat: CustomEvent<ChatMessage>;
  /** Sync figures, about four times a second. */
  stats: CustomEvent<SyncStats>;
  /** The room refused a command of yours: the video is put back. */
  reverted: CustomEvent<ErrorDetail>;
  /** Something failed: a refused command, the media, a subtitle file. */
  error: CustomEvent<ErrorDetail>;
  /** The socket opened, closed (then `retryInMs`), or the room removed or refused you. */
  connection: CustomEvent<ConnectionState>;
  /** Autoplay was refused (playing muted) or the audio is suspended: any tap or key brings the sound back. */
  "needs-gesture": CustomEvent<null>;
  /** The sound is back after a gesture. */
  unmuted: CustomEvent<null>;
  /** The WebAudio graph's state changed. */
  audio: CustomEvent<AudioStatus>;
  /** The video ladder is known (DASH or HLS). */
  qualities: CustomEvent<Quality[]>;
  /** A quality is being fetched. */
  quality: CustomEvent<Quality>;
  /** The media engine waits for data (true) or has enough again (false). */
  buffering: CustomEvent<boolean>;
  /** How your copy of the room's local file compares with the room's. */
  "local-file": CustomEvent<LocalFileMatch>;
  /** The selected text track's showing cues changed. */
  cue: CustomEvent<CueChange>;
  /** Another text track is showing (its id), or none (null). */
  texttrack: CustomEvent<number | null>;
  /** The text tracks changed (a load, a file): the whole list. */
  texttracks: CustomEvent<TextTrackInfo[]>;
  /** The room's subtitle files, their delay or its default language changed. */
  subtitles: CustomEvent<RoomSubtitles>;
  /** MPEG-TS HLS: a CEA-608 caption (CC1 from H.264 SEI) as broadcast showed it, once it ends. */
  caption: CustomEvent<Caption>;
  /** MPEG-TS HLS: timed ID3 metadata at a presentation time (s). */
  metadata: CustomEvent<TimedMetadata>;
  /** MPEG-TS HLS: one segment transmuxed on the main thread (bytes of TS, ms) and each track's span as appended (s). */
  transmux: CustomEvent<TransmuxTiming>;
}
// END GENERATED

/** One membership of one room. Events are dispatched on the session itself. */
export class Session extends EventTarget {
  private constructor(inner: unknown);
  /** The members as last heard (from the player: the same list the `members` event gives). */
  readonly members: Member[];
  /** Your member id once joined. */
  readonly me: number | null;
  /** Your role once joined (the host may change it). */
  readonly role: Role | null;
  readonly queue: QueueItem[];
  readonly bans: Ban[];
  readonly settings: RoomSettings;
  readonly connection: ConnectionState["state"];
  /** The room's source, once known. */
  readonly source: Source | null;
  /** Whether the room takes your play, pause, seek, source and queue commands now: the room's own rule on your role and its mode (false until joined). */
  readonly canControl: boolean;
  readonly stats: SyncStats;
  /** What plays now, whatever the player (the element, YouTube's or Vimeo's embed). */
  readonly playhead: { position: number; duration: number | null; paused: boolean };
  readonly qualities: Quality[];
  readonly audio: AudioStatus;
  /** The text tracks: the source's own and your files (yours only: each member picks). */
  readonly textTracks: TextTrackInfo[];

  play(): void;
  pause(): void;
  seek(seconds: number): void;
  setRate(rate: number): void;
  /** Play another source now: a DASH, HLS or progressive URL, or a YouTube or Vimeo link. */
  load(url: string, title?: string): void;
  /** Play a file from this device, everyone from their own copy: only its name, size, duration and fingerprint go to the room. */
  shareLocalFile(file: File): Promise<void>;
  /** Open your copy of the room's local file (it plays whatever the match). */
  openLocalFile(file: File): Promise<LocalFileMatch>;
  chat(text: string): void;
  queueAdd(url: string, title?: string): void;
  queueRemove(id: number): void;
  queueMove(id: number, to: number): void;
  queueNext(): void;
  /** Host: remove a member and ban its identity and address until `unban`. */
  kick(member: number): void;
  /** Host: lift a ban (an id from `bans`). */
  unban(ban: number): void;
  transferHost(member: number): void;
  setRole(member: number, role: "controller" | "viewer"): void;
  setMode(mode: Mode): void;
  setPassword(password: string | null | undefined): void;
  /** A quality index from `qualities`, or "auto". */
  setQuality(choice: number | "auto"): void;
  setNormalize(on: boolean): void;
  setCorrection(on: boolean): void;
  setHold(on: boolean): void;
  /** Add a subtitle file for yourself (WebVTT, SRT, ASS/SSA, TTML; at most 4 MiB): shown at once, in this page only. */
  addSubtitles(source: File | Blob | string, options?: { label?: string; language?: string }): Promise<TextTrackInfo>;
  /** Show a text track by id, or none (for you only). */
  setTextTrack(id: number | null): void;
  /** The room's subtitle files and their delay. */
  readonly subtitles: RoomSubtitles;
  /** Add a subtitle file to the room, for everyone (if you may control it; at most 2 MiB): a file, or a URL the room fetches itself (no CORS needed). Rejects with the room's reason. */
  shareSubtitles(file: File | Blob | string, options?: { label?: string; language?: string }): Promise<{ id: number; label: string; language: string; cues: number }>;
  /** Remove one of the room's subtitle files. */
  removeSubtitles(id: number): void;
  /** Shift the room's subtitle files for everyone (ms, positive: later; at most ±600000). */
  setSubtitleDelay(ms: number): void;
  /** The room's default subtitle language, for members who have not picked a track ("" for none). */
  setSubtitleLanguage(language: string): void;
  /** Shift every cue by seconds (positive: later), at most ±600. */
  setTextDelay(seconds: number): void;
  /** Leave the room: the socket, timers, listeners and the MediaSource are released. */
  leave(): void;

  addEventListener<K extends keyof SessionEventMap>(type: K, listener: (this: Session, ev: SessionEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof SessionEventMap>(type: K, listener: (this: Session, ev: SessionEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** Every event a Session dispatches. */
export const EVENTS: ReadonlyArray<keyof SessionEventMap>;

/** Load the wasm module (once); `join` calls it for you. */
export function load(wasmUrl?: string | URL): Promise<unknown>;

/** Join a room and keep `video` in sync with it. Rejects with a WatchTogetherError. */
export function join(options: JoinOptions): Promise<Session>;

declare const WatchTogether: {
  join: typeof join;
  load: typeof load;
  Session: typeof Session;
  WatchTogetherError: typeof WatchTogetherError;
  MediaPlayer: typeof MediaPlayer;
};
export default WatchTogether;
