import { crc32 } from "node:zlib";

/**
 * AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's ConverseStream sends it: a 4-byte
 * total length, a 4-byte headers length, a CRC32 of those 8 bytes, the headers (1-byte name length, name, type byte 7
 * for string, 2-byte value length, value), the payload, and a CRC32 of everything before it; all big-endian.
 */
export function encodeFrame(headers: Record<string, string>, payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const headerBytes = Buffer.concat(
    Object.entries(headers).map(([name, value]) => {
      const nameBytes = Buffer.from(name);
      const valueBytes = Buffer.from(value);
      const head = Buffer.alloc(1 + nameBytes.length + 3);
      head.writeUInt8(nameBytes.length, 0);
      nameBytes.copy(head, 1);
      head.writeUInt8(7, 1 + nameBytes.length);
      head.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
      return Buffer.concat([head, valueBytes]);
    }),
  );
  const total = 12 + headerBytes.length + body.length + 4;
  const frame = Buffer.alloc(total);
  frame.writeUInt32BE(total, 0);
  frame.writeUInt32BE(headerBytes.length, 4);
  frame.writeUInt32BE(crc32(frame.subarray(0, 8)), 8);
  headerBytes.copy(frame, 12);
  body.copy(frame, 12 + headerBytes.length);
  frame.writeUInt32BE(crc32(frame.subarray(0, total - 4)), total - 4);
  return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
}

export interface DecodedFrame {
  headers: Record<string, string>;
  payload: Uint8Array;
  /** The whole frame's length in bytes. */
  size: number;
}

/** Why a frame could not be read: a length or CRC that does not add up. */
export class EventStreamFrameError extends Error {
  override readonly name = "EventStreamFrameError";
}

/**
 * Reads whole frames off the front of `buffer`; returns them and the bytes of an incomplete last frame. String
 * headers only (the type ConverseStream uses); other header types are skipped by their size.
 */
export function decodeFrames(buffer: Uint8Array): { frames: DecodedFrame[]; rest: Uint8Array } {
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (buffer.length - offset >= 12) {
    const view = new DataView(buffer.buffer, buffer.byteOffset + offset, buffer.length - offset);
    const total = view.getUint32(0);
    const headersLength = view.getUint32(4);
    if (total < 16 || headersLength > total - 16) throw new EventStreamFrameError(`event-stream frame of ${total} bytes with ${headersLength} bytes of headers`);
    // The prelude is checked as soon as it is here: bytes that are not frames must not wait for a length they made up.
    if (crc32(buffer.subarray(offset, offset + 8)) !== view.getUint32(8)) throw new EventStreamFrameError("event-stream prelude CRC does not match");
    if (buffer.length - offset < total) break;
    const frame = buffer.subarray(offset, offset + total);
    if (crc32(frame.subarray(0, total - 4)) !== view.getUint32(total - 4)) throw new EventStreamFrameError("event-stream message CRC does not match");
    frames.push({ headers: readHeaders(frame.subarray(12, 12 + headersLength)), payload: frame.subarray(12 + headersLength, total - 4), size: total });
    offset += total;
  }
  return { frames, rest: buffer.subarray(offset) };
}

const HEADER_VALUE_SIZES: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

function readHeaders(bytes: Uint8Array): Record<string, string> {
  const headers: Record<string, string> = {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  let at = 0;
  while (at < bytes.length) {
    const nameLength = view.getUint8(at);
    const name = text.decode(bytes.subarray(at + 1, at + 1 + nameLength));
    at += 1 + nameLength;
    const type = view.getUint8(at);
    at += 1;
    if (type === 6 || type === 7) {
      const length = view.getUint16(at);
      if (type === 7) headers[name] = text.decode(bytes.subarray(at + 2, at + 2 + length));
      at += 2 + length;
    } else {
      const size = HEADER_VALUE_SIZES[type];
      if (size === undefined) throw new EventStreamFrameError(`event-stream header "${name}" has unknown type ${type}`);
      at += size;
    }
  }
  return headers;
}
