// Types of the custom element defined by embed.js.
import type { Session, SessionEventMap, TextTrackInfo } from "./watch-together.js";

export interface WatchTogetherElementEventMap extends HTMLElementEventMap, Omit<SessionEventMap, "error"> {
  /** The room is known (given, or created from `src`). */
  room: CustomEvent<{ room: string; url: string }>;
}

/** `<watch-together room="…" src="…" server="…" name="…" password="…">` */
export interface WatchTogetherElement extends HTMLElement {
  /** The session once joined, else null. */
  readonly session: Session | null;
  /** The <video> inside the shadow root. */
  readonly video: HTMLVideoElement;
  /** The room id (given, or created from `src`). */
  readonly room: string | null;
  /** The text tracks: the source's own, the room's files, yours. */
  readonly textTracks: TextTrackInfo[];
  /** Show a text track by id, or none (for this viewer only); the video's captions menu picks them too. */
  setTextTrack(id: number | null): void;
  /** Add a subtitle file for this viewer (WebVTT, SRT, ASS/SSA, TTML). */
  addSubtitles(source: File | Blob | string, options?: { label?: string; language?: string }): Promise<TextTrackInfo>;
  addEventListener<K extends keyof WatchTogetherElementEventMap>(type: K, listener: (this: WatchTogetherElement, ev: WatchTogetherElementEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "watch-together": WatchTogetherElement;
  }
}
