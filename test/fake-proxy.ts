/**
 * A forward proxy for tests, as a corporate one behaves: CONNECT tunnels (what Bun's WebSocket
 * asks for) and absolute-form requests (what Bun's fetch sends for http://). Every host it is
 * asked for is this machine, so a URL such as http://comfy.test:PORT reaches a local fake through
 * it and nowhere else (the name resolves nowhere). It records each request line.
 */
import type { Socket, TCPSocketListener } from "bun";

/** Per client: what it sent while its upstream connection opens, then that connection. */
type Side = { pending?: Uint8Array[]; upstream?: Socket<unknown> };

export class FakeProxy {
  readonly requests: string[] = [];
  #listener: TCPSocketListener<Side> | undefined;

  get url(): string {
    return `http://127.0.0.1:${this.#listener!.port}`;
  }

  start(): this {
    this.#listener = Bun.listen<Side>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (client) => void (client.data = {}),
        data: (client, chunk) => {
          if (client.data.upstream) return void client.data.upstream.write(chunk);
          if (client.data.pending) return void client.data.pending.push(chunk);
          const line = Buffer.from(chunk).toString("latin1").split("\r\n")[0]!;
          this.requests.push(line);
          const target = /^CONNECT [^\s]+:(\d+) /.exec(line) ?? /^[A-Z]+ http:\/\/[^/\s]+:(\d+)\//.exec(line);
          if (!target) return void client.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
          const tunnel = line.startsWith("CONNECT ");
          client.data.pending = tunnel ? [] : [chunk];
          void Bun.connect({
            hostname: "127.0.0.1",
            port: Number(target[1]),
            socket: {
              open: (upstream) => {
                client.data.upstream = upstream;
                if (tunnel) client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
                for (const c of client.data.pending!) upstream.write(c);
                client.data.pending = undefined;
              },
              data: (_upstream, d) => void client.write(d),
              close: () => void client.end(),
              error: () => void client.end(),
            },
          }).catch(() => client.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n"));
        },
        close: (client) => void client.data.upstream?.end(),
        error: (client) => void client.data.upstream?.end(),
      },
    });
    return this;
  }

  stop() {
    this.#listener?.stop(true);
  }
}
