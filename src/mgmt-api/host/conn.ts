// One management connection of the hosted runner, with back-pressure: the
// requests are fed to the server a piece at a time, and while the socket
// refuses more reply bytes (write() returned false) nothing more is read
// from it until 'drain'. A client that stops reading holds only its own
// connection: the runner's memory stays bounded and no reply is dropped.

/** The part of a net.Socket this needs (a test can supply its own). */
export interface MgmtConn {
  write(b: Uint8Array): boolean;
  pause(): unknown;
  resume(): unknown;
  readonly writableNeedDrain: boolean;
  on(event: "data", f: (chunk: Buffer) => void): unknown;
  on(event: "drain", f: () => void): unknown;
}

/** Request bytes fed to the server per step: replies to at most this much input are written between checks. */
export const FEED_PIECE = 4096;

export interface ConnStats {
  /** Request bytes received but not fed yet (at most one socket read plus a piece). */
  held: number;
  /** Times reading was paused because the socket's output was full. */
  pauses: number;
}

/**
 * Serves `conn`: `feed` hands request bytes to the server and returns the
 * reply bytes they produced; `after` runs after each step (the runner
 * releases switch frames there).
 */
export function serveConnection(conn: MgmtConn, feed: (piece: Uint8Array) => Uint8Array, after: () => void = () => {}): ConnStats {
  const stats: ConnStats = { held: 0, pauses: 0 };
  let held: Buffer = Buffer.alloc(0);
  let paused = false;
  const step = (): void => {
    while (held.length > 0 && !conn.writableNeedDrain) {
      const piece = held.subarray(0, FEED_PIECE);
      held = held.subarray(piece.length);
      const out = feed(piece);
      if (out.length > 0) conn.write(out);
    }
    stats.held = held.length;
    // read on only when every request byte went in and the socket takes output
    const stop = held.length > 0 || conn.writableNeedDrain;
    if (stop && !paused) {
      paused = true;
      stats.pauses++;
      conn.pause();
    } else if (!stop && paused) {
      paused = false;
      conn.resume();
    }
    after();
  };
  conn.on("data", (chunk: Buffer) => {
    held = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
    step();
  });
  conn.on("drain", step);
  return stats;
}
