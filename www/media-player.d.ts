// Types of media-player.js: the player alone, without a room.

export interface Quality { id: string; bandwidth: number; width: number | null; height: number | null }

/** What `load` takes: a URL, or `{ url, kind }` to skip detection. */
export type MediaSourceOptions = string | { url: string; kind?: "dash" | "hls" | "progressive" };

/** Events on `MediaPlayer.events`. */
export interface MediaPlayerEventMap {
  /** The ladder is known. */
  qualities: CustomEvent<Quality[]>;
  /** A quality is being fetched. */
  quality: CustomEvent<Quality>;
  buffering: CustomEvent<boolean>;
  error: CustomEvent<{ code: string; message: string }>;
  /** MPEG-TS HLS: timed ID3 metadata at a presentation time (s). */
  metadata: CustomEvent<{ time: number; id3: Uint8Array }>;
  /** MPEG-TS HLS: a CEA-608 caption (CC1 from H.264 SEI) as broadcast showed it, once it ends. */
  caption: CustomEvent<{ track: "CC1"; start: number; end: number; text: string }>;
  /** MPEG-TS HLS: one segment transmuxed on the main thread (bytes of TS, ms), each track's presentation span as appended (s). */
  transmux: CustomEvent<{ segment: number; bytes: number; ms: number; video?: [number, number]; audio?: [number, number] }>;
}

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
  /** Stop and release the element. */
  free(): void;
}

/** Load the wasm module (once); await it before `new MediaPlayer(video)`. */
export function load(wasmUrl?: string | URL): Promise<unknown>;
