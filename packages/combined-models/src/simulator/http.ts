import type { Socket, TCPSocketListener } from "bun";

/**
 * A minimal HTTP/1.1 server on raw TCP (Bun.listen), because the simulator needs two things no HTTP server on Bun
 * gives together:
 * - cutting a connection mid-response. Bun.serve cannot: erroring its ReadableStream body ends the chunked response
 *   cleanly (the client sees a normal end of body), and `server.timeout()` fires after ~4 s at the earliest.
 * - noticing that the client went away while we hang. Bun's node:http never emits `close` for an aborted request.
 * It speaks what the AI SDK's fetch sends: requests with content-length or chunked bodies, keep-alive, one request at a
 * time per connection. Responses use content-length or chunked encoding.
 */

export type IncomingRequest = {
  method: string;
  /** The request target as sent, path and query. */
  target: string;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
};

/** One response on a connection. */
export type Exchange = {
  /** Aborted when the client closes the connection or the server stops. */
  readonly gone: AbortSignal;
  readonly headersSent: boolean;
  /** Without content-length the body is sent chunked. */
  writeHead(status: number, headers: Record<string, string>): void;
  /** Resolves once the bytes are handed to the kernel. */
  write(chunk: string | Uint8Array): Promise<void>;
  /** Completes the response; the connection stays open for the next request. */
  end(chunk?: string): void;
  /** Closes the connection mid-response: the client sees ECONNRESET. */
  cut(): void;
};

export type Handler = (request: IncomingRequest, exchange: Exchange) => Promise<void>;

type Connection = {
  buffer: Buffer;
  busy: boolean;
  /** Bytes the kernel did not take yet; written on drain. */
  pending: Buffer[];
  drained: (() => void)[];
  gone: AbortController;
};

const reasons: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
  529: "Overloaded",
};

export type HttpServer = { port: number; stop(): Promise<void> };

export function listen(options: { port: number; handler: Handler }): HttpServer {
  const sockets = new Set<Socket<Connection>>();

  const listener: TCPSocketListener<Connection> = Bun.listen<Connection>({
    hostname: "127.0.0.1",
    port: options.port,
    socket: {
      open(socket) {
        socket.data = { buffer: Buffer.alloc(0), busy: false, pending: [], drained: [], gone: new AbortController() };
        sockets.add(socket);
      },
      data(socket, data) {
        socket.data.buffer = Buffer.concat([socket.data.buffer, data]);
        serveNext(socket, options.handler);
      },
      drain(socket) {
        flush(socket);
      },
      close(socket) {
        sockets.delete(socket);
        socket.data.gone.abort();
        for (const resolve of socket.data.drained.splice(0)) resolve();
      },
      error(socket) {
        socket.data.gone.abort();
      },
    },
  });

  return {
    port: listener.port,
    async stop() {
      listener.stop(true);
      for (const socket of sockets) {
        socket.terminate();
        socket.data.gone.abort();
      }
      sockets.clear();
    },
  };
}

/** Parses one complete request from the buffer, if there is one, and serves it. */
function serveNext(socket: Socket<Connection>, handler: Handler): void {
  const connection = socket.data;
  if (connection.busy) return;
  const request = takeRequest(connection);
  if (request === "incomplete") return;
  if (request === "malformed") {
    socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    return;
  }
  connection.busy = true;
  const exchange = createExchange(socket);
  handler(request, exchange)
    .catch((error: unknown) => {
      // A bug in the simulator must not look like a provider fault: answer 500 with the cause, or drop the socket.
      if (!exchange.headersSent) {
        exchange.writeHead(500, { "content-type": "application/json" });
        exchange.end(JSON.stringify({ error: { message: `simulator: ${String(error)}`, type: "simulator_error" } }));
      } else exchange.cut();
    })
    .finally(() => {
      connection.busy = false;
      if (request.headers.connection?.toLowerCase() === "close") socket.end();
      else if (!connection.gone.signal.aborted) serveNext(socket, handler);
    });
}

function takeRequest(connection: Connection): IncomingRequest | "incomplete" | "malformed" {
  const { buffer } = connection;
  const headEnd = buffer.indexOf("\r\n\r\n");
  if (headEnd < 0) return buffer.length > 64 * 1024 ? "malformed" : "incomplete";
  const [requestLine = "", ...headerLines] = buffer.subarray(0, headEnd).toString("latin1").split("\r\n");
  const [method, target] = requestLine.split(" ");
  if (!method || !target) return "malformed";
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "malformed";
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }

  const bodyStart = headEnd + 4;
  if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
    const decoded = decodeChunked(buffer, bodyStart);
    if (decoded === "incomplete" || decoded === "malformed") return decoded;
    connection.buffer = buffer.subarray(decoded.end);
    return { method, target, headers, body: decoded.body.toString("utf8") };
  }
  const length = Number(headers["content-length"] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0) return "malformed";
  if (buffer.length < bodyStart + length) return "incomplete";
  connection.buffer = buffer.subarray(bodyStart + length);
  return { method, target, headers, body: buffer.subarray(bodyStart, bodyStart + length).toString("utf8") };
}

function decodeChunked(buffer: Buffer, start: number): { body: Buffer; end: number } | "incomplete" | "malformed" {
  const parts: Buffer[] = [];
  let offset = start;
  for (;;) {
    const lineEnd = buffer.indexOf("\r\n", offset);
    if (lineEnd < 0) return "incomplete";
    const size = Number.parseInt(buffer.subarray(offset, lineEnd).toString("latin1").split(";")[0] ?? "", 16);
    if (Number.isNaN(size)) return "malformed";
    const dataStart = lineEnd + 2;
    if (size === 0) {
      // Skip trailers up to the empty line.
      const trailerEnd = buffer.indexOf("\r\n\r\n", lineEnd);
      if (buffer.subarray(dataStart, dataStart + 2).toString("latin1") === "\r\n") return { body: Buffer.concat(parts), end: dataStart + 2 };
      if (trailerEnd < 0) return "incomplete";
      return { body: Buffer.concat(parts), end: trailerEnd + 4 };
    }
    if (buffer.length < dataStart + size + 2) return "incomplete";
    parts.push(buffer.subarray(dataStart, dataStart + size));
    offset = dataStart + size + 2;
  }
}

function createExchange(socket: Socket<Connection>): Exchange {
  const connection = socket.data;
  let headersSent = false;
  let chunked = false;
  let ended = false;

  const send = (data: string | Buffer) => {
    if (connection.gone.signal.aborted) return;
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    if (connection.pending.length > 0) {
      connection.pending.push(bytes);
      return;
    }
    const written = socket.write(bytes);
    if (written < bytes.length) connection.pending.push(bytes.subarray(Math.max(0, written)));
    // Bun corks socket writes; flush so every SSE event leaves now, as a real server's would.
    socket.flush();
  };
  const encode = (chunk: string | Uint8Array) => {
    const bytes = Buffer.from(chunk);
    return chunked ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from("\r\n")]) : bytes;
  };

  return {
    gone: connection.gone.signal,
    get headersSent() {
      return headersSent;
    },
    writeHead(status, headers) {
      if (headersSent) throw new Error("simulator: headers already sent");
      headersSent = true;
      chunked = !Object.keys(headers).some((name) => name.toLowerCase() === "content-length");
      const lines = [`HTTP/1.1 ${status} ${reasons[status] ?? "Status"}`, `date: ${new Date().toUTCString()}`];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      if (chunked) lines.push("transfer-encoding: chunked");
      send(`${lines.join("\r\n")}\r\n\r\n`);
    },
    write(chunk) {
      if (chunk.length > 0) send(encode(chunk));
      return new Promise<void>((resolve) => {
        if (connection.pending.length === 0 || connection.gone.signal.aborted) resolve();
        else connection.drained.push(resolve);
      });
    },
    end(chunk) {
      if (ended) return;
      ended = true;
      if (chunk !== undefined && chunk.length > 0) send(encode(chunk));
      if (chunked) send("0\r\n\r\n");
    },
    cut() {
      ended = true;
      // end() flushes what was written, then closes: the client reads the text, then the reset.
      socket.end();
    },
  };
}

function flush(socket: Socket<Connection>): void {
  const connection = socket.data;
  while (connection.pending.length > 0) {
    const next = connection.pending[0]!;
    const written = socket.write(next);
    if (written < next.length) {
      connection.pending[0] = next.subarray(Math.max(0, written));
      return;
    }
    connection.pending.shift();
  }
  for (const resolve of connection.drained.splice(0)) resolve();
}
