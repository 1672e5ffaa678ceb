import type { Torrent, TorrentFile } from './index';

/**
 * `<webswarm-download src=… webseed=… trackers=… file=… storage=… theme=… sources>`;
 * with `sources`, a piece map coloured by where each piece came from and the
 * bytes from peers, native seeders and the webseed.
 */
export declare class WebswarmDownload extends HTMLElement {
  readonly torrent: Torrent | null;
  readonly file: TorrentFile | null;
  /** loading, peers, downloading, verifying, paused, done or error. */
  readonly state: string;
  /** Streams the finished file to disk (save picker, or a download link). */
  save(): Promise<void>;
}

declare global {
  interface HTMLElementTagNameMap {
    'webswarm-download': WebswarmDownload;
  }
}
