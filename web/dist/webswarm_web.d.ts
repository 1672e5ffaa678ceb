/* tslint:disable */
/* eslint-disable */

/**
 * A browser peer: any number of torrents sharing tracker sockets and one
 * budget of peer connections.
 */
export class Client {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Starts downloading. `source`: a magnet link, a hex info-hash, a
     * .torrent URL, or .torrent bytes. Options: `trackers`, `storage`.
     * Resolves to the torrent at once; its metadata may come later.
     */
    add(source: any, options: any): Promise<any>;
    /**
     * Stops every torrent and closes the tracker sockets.
     */
    destroy(): void;
    /**
     * Options: `trackers` (ws:// or wss:// URLs added to every torrent),
     * `iceServers` (RTCIceServer[]; default: public STUN), `maxConnections`
     * (default 100), `storage` ("opfs", the default where available, or
     * "memory"), `offersPerAnnounce` (5), `iceGatherTimeout` ms (3000),
     * `connectTimeout` ms (20000), `maxPeersPerTorrent` (50).
     */
    constructor(options: any);
    /**
     * Seeds a File, a Blob, or an array (or FileList) of them. Options:
     * `name`, `trackers`, `pieceLength`. Resolves once every piece is
     * hashed; the torrent's `magnetURI` and `torrentFile` are then ready.
     */
    seed(files: any, options: any): Promise<any>;
    /**
     * Whether every tracker socket is open, and the last tracker error.
     */
    trackerStatus(): Array<any>;
    /**
     * The torrents added, in no particular order.
     */
    readonly torrents: Array<any>;
}

/**
 * One torrent. Cheap to clone on the JS side: every copy drives the same one.
 */
export class Torrent {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Blob parts covering `[start, end)` (disk-backed with OPFS), waiting
     * for every piece: `new Blob(parts)` then costs no memory.
     */
    blobParts(start: number, end: number): Promise<any>;
    /**
     * Leaves the swarm. Options: `removeStorage` (delete what OPFS holds).
     */
    destroy(options: any): Promise<any>;
    pause(): void;
    /**
     * Bytes `[start, end)` of the torrent, waiting for their pieces and
     * moving them to the front of the download (streaming).
     */
    read(start: number, end: number): Promise<any>;
    /**
     * Resolves when the metadata is known and storage is open.
     */
    ready(): Promise<any>;
    resume(): void;
    /**
     * Downloads the file (`true`) or skips it (`false`).
     */
    select(file: number, wanted: boolean): void;
    /**
     * Receives every event as `(type, detail)`: metadata, progress (0–1),
     * verified (piece index), done, error (message), warning (message),
     * peer-connected / peer-disconnected (peer count).
     */
    setListener(f?: Function | null): void;
    /**
     * Peers banned for sending data that failed verification.
     */
    readonly banned: number;
    readonly done: boolean;
    /**
     * Bytes per second, averaged over the last seconds.
     */
    readonly downloadSpeed: number;
    /**
     * Bytes received from peers (verified or not).
     */
    readonly downloaded: number;
    /**
     * Pieces already verified when the torrent was added (resumed).
     */
    readonly error: string | undefined;
    /**
     * `[{name, path, length, offset}]`, empty until the metadata is known.
     */
    readonly files: Array<any>;
    readonly infoHash: string;
    readonly length: number | undefined;
    readonly magnetURI: string;
    /**
     * `null` until the metadata is known.
     */
    readonly name: string | undefined;
    readonly numPeers: number;
    readonly paused: boolean;
    readonly pieceLength: number | undefined;
    /**
     * Verified fraction, 0–1.
     */
    readonly progress: number;
    /**
     * Milliseconds from `add` to the first verified piece.
     */
    readonly timeToFirstPiece: number | undefined;
    /**
     * The .torrent file, for torrents made by `seed`.
     */
    readonly torrentFile: Uint8Array | undefined;
    readonly uploadSpeed: number;
    readonly uploaded: number;
}

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_client_free: (a: number, b: number) => void;
    readonly __wbg_torrent_free: (a: number, b: number) => void;
    readonly client_add: (a: number, b: any, c: any) => any;
    readonly client_destroy: (a: number) => void;
    readonly client_new: (a: any) => [number, number, number];
    readonly client_seed: (a: number, b: any, c: any) => any;
    readonly client_torrents: (a: number) => any;
    readonly client_trackerStatus: (a: number) => any;
    readonly torrent_banned: (a: number) => number;
    readonly torrent_blobParts: (a: number, b: number, c: number) => any;
    readonly torrent_destroy: (a: number, b: any) => any;
    readonly torrent_done: (a: number) => number;
    readonly torrent_downloadSpeed: (a: number) => number;
    readonly torrent_downloaded: (a: number) => number;
    readonly torrent_error: (a: number) => [number, number];
    readonly torrent_files: (a: number) => any;
    readonly torrent_infoHash: (a: number) => [number, number];
    readonly torrent_length: (a: number) => [number, number];
    readonly torrent_magnetURI: (a: number) => [number, number];
    readonly torrent_name: (a: number) => [number, number];
    readonly torrent_numPeers: (a: number) => number;
    readonly torrent_pause: (a: number) => void;
    readonly torrent_paused: (a: number) => number;
    readonly torrent_pieceLength: (a: number) => number;
    readonly torrent_progress: (a: number) => number;
    readonly torrent_read: (a: number, b: number, c: number) => any;
    readonly torrent_ready: (a: number) => any;
    readonly torrent_resume: (a: number) => void;
    readonly torrent_select: (a: number, b: number, c: number) => void;
    readonly torrent_setListener: (a: number, b: number) => void;
    readonly torrent_timeToFirstPiece: (a: number) => [number, number];
    readonly torrent_torrentFile: (a: number) => any;
    readonly torrent_uploadSpeed: (a: number) => number;
    readonly torrent_uploaded: (a: number) => number;
    readonly wasm_bindgen__convert__closures_____invoke__h12a769c57a185fd1: (a: number, b: number, c: any) => [number, number];
    readonly wasm_bindgen__convert__closures_____invoke__h3e1863e0642b0e31: (a: number, b: number, c: any, d: any) => void;
    readonly wasm_bindgen__convert__closures_____invoke__h3ef1f8019c9c8d14: (a: number, b: number, c: any, d: any) => void;
    readonly wasm_bindgen__convert__closures_____invoke__h167bf5e76bba73ab: (a: number, b: number, c: any) => void;
    readonly wasm_bindgen__convert__closures_____invoke__ha3b832dea5bd8b1a: (a: number, b: number, c: any) => void;
    readonly wasm_bindgen__convert__closures_____invoke__h65b077350f51d491: (a: number, b: number) => number;
    readonly wasm_bindgen__convert__closures_____invoke__h832ceeecc7d2fb5e: (a: number, b: number) => void;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_destroy_closure: (a: number, b: number) => void;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
