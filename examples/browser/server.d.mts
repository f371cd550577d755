// Types of server.mjs (for the e2e test and anyone scripting the example).
export interface BrowserExampleServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** The files served under /models/: the demo model as ONNX and as .lfpack, and the packing stats. */
  readonly models: {
    readonly onnx: Uint8Array;
    readonly lfpack: Uint8Array;
    readonly stats: { tensors: number; rawBytes: number; packedBytes: number; ratio: number };
  };
  /** Stops the server, dropping open connections. */
  close(): Promise<void>;
}

/** Bundles the page, builds the demo models and listens on 127.0.0.1 (`port` 0: an ephemeral port). */
export function startServer(options?: { port?: number; log?: (line: string) => void }): Promise<BrowserExampleServer>;
