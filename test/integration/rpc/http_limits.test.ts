/**
 * serveHttp's bounds on a real socket: a 20 MiB body refused with 413 while it is still being
 * sent and never held, oversized headers refused with 431, a slow client cut off with 408.
 */
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import t from "tap";
import {
  createBlock,
  type FetchApp,
  readBodyBytes,
  reply,
  serveHttp,
} from "../../../components/rpc/mod.ts";

const MiB = 1024 * 1024;
const SENT = 20 * MiB;
const CHUNK = 64 * 1024;

/** The upload route, behind a wrapper that counts the body bytes the route pulled from the socket. */
function countingUploadApp(): { app: FetchApp; pulled: () => number } {
  const block = createBlock().post("/upload", async (c) =>
    reply(c, { bytes: (await readBodyBytes(c, MiB)).byteLength }),
  );
  let pulled = 0;
  const app: FetchApp = {
    fetch(req: Request) {
      if (!req.body) return block.fetch(req);
      const reader = req.body.getReader();
      // highWaterMark 0: a byte is counted only when the route asks for it.
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) return controller.close();
            pulled += value.byteLength;
            controller.enqueue(value);
          },
          cancel: (reason) => reader.cancel(reason),
        },
        { highWaterMark: 0 },
      );
      const init = { method: req.method, headers: req.headers, body, duplex: "half" };
      return block.fetch(new Request(req.url, init as RequestInit));
    },
  };
  return { app, pulled: () => pulled };
}

interface Upload {
  status: number;
  text: string;
  /** Bytes the client had written when the response arrived. */
  sentBeforeAnswer: number;
}

/** Streams `SENT` bytes in chunks, stopping as soon as an answer arrives. */
function upload(url: string, headers: Record<string, string> = {}): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest(`${url}/upload`, { method: "POST", headers }, (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (part: string) => (text += part));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, sentBeforeAnswer }));
      res.on("error", reject);
    });
    // The server closes the connection once it has answered: later writes may fail, as they should.
    req.on("error", (err) => (answered ? undefined : reject(err)));
    const chunk = new Uint8Array(CHUNK).fill(0x61);
    const writeMore = (): void => {
      while (!answered && sent < SENT) {
        sent += CHUNK;
        if (!req.write(chunk)) return void req.once("drain", writeMore);
      }
      if (!answered) req.end();
    };
    writeMore();
  });
}

t.test(
  "a 20 MiB streamed body: 413 while it is still being sent, at most ~1 MiB read",
  async (t) => {
    const { app, pulled } = countingUploadApp();
    const server = await serveHttp(app);
    t.teardown(() => server.close());

    const result = await upload(server.url);
    t.equal(result.status, 413);
    t.match(
      result.text,
      /more than 1048576 bytes for POST \/upload exceeds the limit of 1048576 bytes/,
    );
    t.ok(
      result.sentBeforeAnswer < SENT,
      `answered before the client finished sending (${result.sentBeforeAnswer} of ${SENT} bytes)`,
    );
    t.ok(pulled() > MiB, "the route read up to the limit");
    t.ok(pulled() <= MiB + CHUNK, `and stopped right after it (${pulled()} bytes read)`);
  },
);

t.test("a declared Content-Length of 20 MiB: 413 before a byte is read", async (t) => {
  const { app, pulled } = countingUploadApp();
  const server = await serveHttp(app);
  t.teardown(() => server.close());

  const result = await upload(server.url, { "content-length": String(SENT) });
  t.equal(result.status, 413);
  t.match(result.text, /request body of 20971520 bytes for POST \/upload/);
  t.ok(result.sentBeforeAnswer < SENT, "answered before the client finished sending");
  t.equal(pulled(), 0, "nothing was read");
});

t.test("a body within the limit is read whole", async (t) => {
  const { app, pulled } = countingUploadApp();
  const server = await serveHttp(app);
  t.teardown(() => server.close());
  const res = await fetch(`${server.url}/upload`, { method: "POST", body: new Uint8Array(MiB) });
  t.equal(res.status, 200);
  t.same(await res.json(), { bytes: MiB });
  t.equal(pulled(), MiB);
});

t.test("request headers over 16 KiB: 431 from the server itself", async (t) => {
  const { app } = countingUploadApp();
  const server = await serveHttp(app);
  t.teardown(() => server.close());
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${server.url}/upload`, {
      method: "POST",
      headers: { "x-padding": "x".repeat(17 * 1024) },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
  t.equal(status, 431);

  const smaller = await fetch(`${server.url}/upload`, {
    method: "POST",
    headers: { "x-padding": "x".repeat(15 * 1024) },
    body: "abc",
  });
  t.equal(smaller.status, 200, "15 KiB of headers pass");
});

t.test("a client that never finishes its headers is answered 408 and cut off", async (t) => {
  const { app } = countingUploadApp();
  const server = await serveHttp(app, { headersTimeoutMs: 200, requestTimeoutMs: 400 });
  t.teardown(() => server.close());
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1", () => {
      socket.write("POST /upload HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (part: string) => (text += part));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
  t.match(answer, /^HTTP\/1\.1 408/, "the server gave up on it");
});

t.test("a client that sends its body too slowly is cut off too", async (t) => {
  const { app } = countingUploadApp();
  const server = await serveHttp(app, { headersTimeoutMs: 200, requestTimeoutMs: 400 });
  t.teardown(() => server.close());
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1", () => {
      socket.write("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nab");
    });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (part: string) => (text += part));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
  t.match(answer, /^HTTP\/1\.1 408/, "the whole request must arrive within requestTimeoutMs");
});
