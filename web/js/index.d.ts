// Hand-written types for webswarm-web's public API (index.js).

export interface ClientOptions {
  /** ws:// or wss:// trackers added to every torrent. */
  trackers?: string[];
  /** STUN/TURN servers; default: two public STUN servers. `[]` for none. */
  iceServers?: RTCIceServer[];
  /**
   * Connect through the TURN servers of `iceServers` only: no host or
   * server-reflexive candidate leaves the page, so peers never learn this
   * visitor's addresses (default false; needs a turn: or turns: URL).
   */
  relayOnly?: boolean;
  /**
   * A tracker's `/turn-credentials` URL: short-lived TURN credentials are
   * fetched from it before the first connection (and renewed at half their
   * life) and added to `iceServers`.
   */
  turnCredentials?: string | URL;
  /** Peer connections open or being set up, across torrents (default 100). */
  maxConnections?: number;
  /** Where downloads are kept: "opfs" (default where available, resumable) or "memory". */
  storage?: 'opfs' | 'memory';
  /** Most offers sent with an announce (default 5); once the tracker has counted the swarm, no more than it has peers to relay them to (a seed's go to leechers only). */
  offersPerAnnounce?: number;
  /** Longest wait for ICE candidates per offer or answer, ms (default 3000). */
  iceGatherTimeout?: number;
  /** Longest wait for a data channel to open, ms (default 20000). */
  connectTimeout?: number;
  /** Connections per torrent (default 50). */
  maxPeersPerTorrent?: number;
  /** Where to load the .wasm from (URL, Response, or module); default: beside this file. */
  wasm?: string | URL | Response | WebAssembly.Module;
}

export interface AddOptions {
  trackers?: string[];
  /** BEP 19 webseeds (HTTP URLs) besides the torrent's own `url-list` / `ws=`. */
  webseeds?: string[];
  storage?: 'opfs' | 'memory';
}

export interface SeedOptions {
  /** Torrent name; default: the (first) file's name. */
  name?: string;
  trackers?: string[];
  /** Bytes per piece, a power of two ≥ 16 KiB; default: chosen from the size. */
  pieceLength?: number;
}

export interface TorrentEventMap {
  metadata: CustomEvent<undefined>;
  /** Verified fraction 0–1. */
  progress: CustomEvent<number>;
  /** Index of the piece that passed its hash check. */
  verified: CustomEvent<number>;
  done: CustomEvent<undefined>;
  /** A message a page can show; the torrent is paused. */
  error: CustomEvent<string>;
  warning: CustomEvent<string>;
  /** Peers connected after the change. */
  'peer-connected': CustomEvent<number>;
  'peer-disconnected': CustomEvent<number>;
}

/** Bytes of wasm linear memory of the live clients (one module instance each; it never shrinks). */
export declare function wasmMemoryBytes(): number;

/** Compiles webswarm.wasm once (every Client awaits it; calling it early only starts it sooner). */
export declare function init(wasm?: string | URL | Response | WebAssembly.Module): Promise<WebAssembly.Module>;

export declare class Client {
  constructor(options?: ClientOptions);
  ready(): Promise<this>;
  /** A magnet link, hex info-hash, .torrent URL, or .torrent bytes. Rejects with a clear Error on bad input. */
  add(source: string | URL | Uint8Array | ArrayBuffer, options?: AddOptions): Promise<Torrent>;
  seed(files: File | Blob | ArrayLike<File | Blob> | FileList, options?: SeedOptions): Promise<Torrent>;
  readonly torrents: Torrent[];
  trackerStatus(): { url: string; connected: boolean; error: string | null }[];
  destroy(): void;
}

export declare class Torrent extends EventTarget {
  on<K extends keyof TorrentEventMap>(type: K, fn: (detail: TorrentEventMap[K]['detail']) => void): this;
  addEventListener<K extends keyof TorrentEventMap>(
    type: K, listener: (ev: TorrentEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions): void;
  readonly infoHash: string;
  readonly magnetURI: string;
  /** Our peer id in this swarm, hex. */
  readonly peerId: string;
  /** The .torrent file, for torrents made by `seed`. */
  readonly torrentFile: Uint8Array | undefined;
  /** `null` until the metadata is known. */
  readonly name: string | null;
  readonly length: number | null;
  readonly pieceLength: number | null;
  readonly progress: number;
  readonly done: boolean;
  readonly paused: boolean;
  readonly downloaded: number;
  readonly uploaded: number;
  /** Bytes per second. */
  readonly downloadSpeed: number;
  readonly uploadSpeed: number;
  readonly numPeers: number;
  /** The part of `downloadSpeed` from webseeds, bytes per second. */
  readonly webseedSpeed: number;
  /** Webseeds in use; one that fails or sends bad data is dropped. */
  readonly numWebseeds: number;
  /** Peers banned for sending data that failed verification. */
  readonly banned: number;
  /** ms from `add` to the first verified piece, once there is one. */
  readonly timeToFirstPiece: number | undefined;
  readonly error: string | undefined;
  /**
   * Where each piece came from, one byte per piece: 0 missing, 1 stored before
   * (resumed or seeded), 2 a peer, 3 a native seeder, 4 a webseed (the site's
   * origin). A piece with blocks from several counts for the webseed first,
   * then a native seeder. `null` until the metadata is known.
   */
  readonly pieceSources: Uint8Array | null;
  /** Verified bytes by where they came from (see `pieceSources`). */
  readonly sources: { stored: number; peers: number; native: number; webseed: number };
  readonly files: TorrentFile[];
  ready(): Promise<this>;
  whenDone(): Promise<this>;
  pause(): void;
  resume(): void;
  destroy(options?: { removeStorage?: boolean }): Promise<void>;
}

export declare class TorrentFile {
  readonly index: number;
  readonly name: string;
  /** Path inside the torrent, starting with the torrent's name for multi-file torrents. */
  readonly path: string;
  readonly length: number;
  /** Byte offset inside the torrent. */
  readonly offset: number;
  select(): void;
  deselect(): void;
  blob(options?: { type?: string }): Promise<Blob>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** A URL a <video> can play while the file downloads; needs `registerServiceWorker()`. */
  streamURL(): string;
  /** The whole file as a Response that streams as it downloads. */
  response(): Response;
  /** Streams the file; reading drives the download order (streaming priority). */
  stream(range?: { start?: number; end?: number }): ReadableStream<Uint8Array>;
}

export interface FetchOptions extends AddOptions {
  /** File path or name inside the torrent; default: the first file. */
  path?: string;
  /** Client to use; default: the page-wide one (`defaultClient()`). */
  client?: Client;
}

/**
 * One file of a torrent as a Response that streams while it downloads, from
 * peers and the torrent's webseeds at once.
 */
export declare function fetch(source: string | URL | Uint8Array | ArrayBuffer, options?: FetchOptions): Promise<Response>;

/** The page-wide client the widget and `fetch` share (created on first use). */
export declare function defaultClient(options?: ClientOptions): Client;

/** Adds `source` unless the client has it already (then returns that torrent). */
export declare function addOnce(client: Client, source: string | URL | Uint8Array | ArrayBuffer, options?: AddOptions): Promise<Torrent>;

/** The file at `path` (path or name), or the first file. */
export declare function pickFile(torrent: Torrent, path?: string): TorrentFile | undefined;

/**
 * Registers webswarm's service worker (the package's sw.js, served from your
 * site's root) and answers its requests; resolves once it controls the page.
 */
export declare function registerServiceWorker(url?: string, options?: { scope?: string }): Promise<ServiceWorkerRegistration>;
