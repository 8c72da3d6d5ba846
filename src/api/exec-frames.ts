/**
 * The framing of exec and attach streams over a websocket. The client's first message is the
 * JSON ExecRequest; afterwards every binary message is one frame: a channel byte then payload.
 * Control frames carry JSON: {"resize":[cols,rows]}, {"signal":"INT"}, {"eof":true} from the
 * client; {"exit":N} or {"error":{code,message}} from the server, after which it closes.
 */

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, control: 3 } as const;
export type Channel = (typeof CHANNEL)[keyof typeof CHANNEL];

export type ClientControl = { resize: [number, number] } | { signal: string } | { eof: true };
export type ServerControl = { exit: number } | { error: { code: string; message: string } };

/** One frame: the channel byte followed by the payload. */
export function encodeFrame(channel: Channel, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from([channel]), body]);
}

/** Splits a frame into its channel and payload; undefined for an empty or unknown frame. */
export function decodeFrame(frame: Buffer): { channel: Channel; payload: Buffer } | undefined {
  if (frame.length === 0 || frame[0]! > 3) return undefined;
  return { channel: frame[0] as Channel, payload: frame.subarray(1) };
}

/**
 * The same frames over a plain HTTP response (no websocket, for clients that only read, such as
 * a non-interactive foreground `run`): each frame is the channel byte, a 4-byte big-endian
 * payload length, then the payload.
 */
export function encodeStreamFrame(channel: Channel, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = channel;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits buffered stream bytes into whole frames; returns them and the bytes left over. */
export function decodeStreamFrames(buf: Buffer): {
  frames: { channel: Channel; payload: Buffer }[];
  rest: Buffer;
} {
  const frames: { channel: Channel; payload: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= 5) {
    const len = buf.readUInt32BE(off + 1);
    if (buf.length - off - 5 < len) break;
    frames.push({ channel: buf[off] as Channel, payload: buf.subarray(off + 5, off + 5 + len) });
    off += 5 + len;
  }
  return { frames, rest: buf.subarray(off) };
}
