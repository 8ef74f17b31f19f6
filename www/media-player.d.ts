// Types of media-player.js: the player alone, without a room.

export interface Quality { id: string; bandwidth: number; width: number | null; height: number | null }

/** What `load` takes: a URL, or `{ url, kind }` to skip detection. */
export type MediaSourceOptions = string | { url: string; kind?: "dash" | "hls" | "progressive" };

/** A text track of the player (`textTracks`). */
export interface TextTrackInfo {
  id: number;
  label: string;
  /** BCP 47 tag, or "" when unknown. */
  language: string;
  /** "file": added with `addSubtitles`; "stream": the stream's own (DASH text AdaptationSet, HLS SUBTITLES rendition), fetched while selected. */
  origin: "file" | "stream";
  /** false until a stream track's playlist is read (after it is first selected). */
  loaded: boolean;
  /** How many cues it holds. */
  cues: number;
  selected: boolean;
}

/** A cue showing now: times on the element's clock (delay included), `text` WebVTT markup, `plain` without. */
export interface ShowingCue { start: number; end: number; text: string; plain: string }

/** What went wrong: `code` (media, subtitles) and a message for people. */
export interface ErrorDetail { code: string; message: string }
/** The selected text track (its id) and the cues it shows now. */
export interface CueChange { track: number; cues: ShowingCue[] }
/** MPEG-TS HLS: a CEA-608 caption as broadcast showed it (times in s). */
export interface Caption { track: "CC1"; start: number; end: number; text: string }
/** MPEG-TS HLS: timed ID3 metadata at a presentation time (s). */
export interface TimedMetadata { time: number; id3: Uint8Array }
/** MPEG-TS HLS: one segment transmuxed on the main thread: its bytes, the ms it took, each track's span as appended (s). */
export interface TransmuxTiming { segment: number; bytes: number; ms: number; video?: [number, number]; audio?: [number, number] }

// BEGIN GENERATED: events (cargo xtask codegen)
/** Events on `MediaPlayer.events`. */
export interface MediaPlayerEventMap {
  /** Something failed: a refused command, the media, a subtitle file. */
  error: CustomEvent<ErrorDetail>;
  /** The video ladder is known (DASH or HLS). */
  qualities: CustomEvent<Quality[]>;
  /** A quality is being fetched. */
  quality: CustomEvent<Quality>;
  /** The media engine waits for data (true) or has enough again (false). */
  buffering: CustomEvent<boolean>;
  /** The selected text track's showing cues changed. */
  cue: CustomEvent<CueChange>;
  /** Another text track is showing (its id), or none (null). */
  texttrack: CustomEvent<number | null>;
  /** The text tracks changed (a load, a file): the whole list. */
  texttracks: CustomEvent<TextTrackInfo[]>;
  /** MPEG-TS HLS: a CEA-608 caption (CC1 from H.264 SEI) as broadcast showed it, once it ends. */
  caption: CustomEvent<Caption>;
  /** MPEG-TS HLS: timed ID3 metadata at a presentation time (s). */
  metadata: CustomEvent<TimedMetadata>;
  /** MPEG-TS HLS: one segment transmuxed on the main thread (bytes of TS, ms) and each track's span as appended (s). */
  transmux: CustomEvent<TransmuxTiming>;
}
// END GENERATED

/** DASH, HLS (fMP4 and MPEG-TS segments) and progressive files on one element. */
export class MediaPlayer {
  constructor(video: HTMLVideoElement);
  /** Events: see `MediaPlayerEventMap`. */
  readonly events: EventTarget;
  /** Play a URL, or `{ url, kind }` to skip detection. */
  load(source: MediaSourceOptions): void;
  /** Video qualities, lowest first. */
  qualities(): Quality[];
  /** A quality index from `qualities()`, or "auto". */
  setQuality(choice: number | "auto"): void;
  /** Add a subtitle file (WebVTT, SRT, ASS/SSA, TTML; at most 4 MiB) from a File, a Blob or a URL; shown at once. Rejects with what is wrong with it. */
  addSubtitles(source: File | Blob | string, options?: { label?: string; language?: string }): Promise<TextTrackInfo>;
  /** The text tracks, in the order they were added. */
  readonly textTracks: TextTrackInfo[];
  /** Show a text track by id, or none. */
  setTextTrack(id: number | null): void;
  /** Shift every cue by seconds (positive: later), at most ±600. */
  setTextDelay(seconds: number): void;
  /** false: the browser does not draw the cues; `cue` events still come (draw your own). */
  setTextDisplay(display: boolean): void;
  /** Stop and release the element. */
  free(): void;
}

/** Load the wasm module (once); await it before `new MediaPlayer(video)`. */
export function load(wasmUrl?: string | URL): Promise<unknown>;
